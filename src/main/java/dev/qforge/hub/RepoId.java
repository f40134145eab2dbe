package dev.qforge.hub;

import dev.qforge.QforgeException;

import java.util.regex.Pattern;

/**
 * A Hub model repository id, {@code owner/name}. It is validated before it goes into a URL or a
 * directory name: the Hub itself only accepts these characters, so anything else is a typo we can report
 * clearly instead of as a puzzling 404, and ".." or "/" in a part would escape the cache directory.
 */
public record RepoId(String owner, String name) {
    /** The Hub's own limit for the whole id (huggingface_hub checks the same). */
    static final int MAX_LENGTH = 96;
    private static final Pattern PART = Pattern.compile("[A-Za-z0-9._-]+");

    public RepoId {
        check(owner, "owner", owner + "/" + name);
        check(name, "name", owner + "/" + name);
    }

    public static RepoId parse(String id) {
        if (id == null || id.isBlank()) {
            throw new QforgeException("repo id is empty: expected owner/name, e.g. HuggingFaceTB/SmolLM2-135M");
        }
        if (id.length() > MAX_LENGTH) {
            throw new QforgeException("repo id '" + abbreviate(id) + "' is " + id.length()
                    + " characters, longer than the Hub's limit of " + MAX_LENGTH);
        }
        int slash = id.indexOf('/');
        if (slash < 0 || slash != id.lastIndexOf('/')) {
            throw new QforgeException("repo id '" + id + "' must be owner/name with exactly one '/', "
                    + "e.g. HuggingFaceTB/SmolLM2-135M");
        }
        return new RepoId(id.substring(0, slash), id.substring(slash + 1));
    }

    private static void check(String part, String what, String id) {
        if (part == null || part.isEmpty()) {
            throw new QforgeException("repo id '" + id + "' has an empty " + what + ": expected owner/name");
        }
        if (!PART.matcher(part).matches()) {
            throw new QforgeException("repo id '" + id + "': the " + what
                    + " may contain only letters, digits, '.', '_' and '-'");
        }
        if (part.contains("..") || part.contains("--")) {
            // "--" is reserved: the Hub's cache layout uses it as the owner/name separator, and so do we.
            throw new QforgeException("repo id '" + id + "': the " + what + " must not contain '..' or '--'");
        }
        char first = part.charAt(0);
        char last = part.charAt(part.length() - 1);
        if (first == '-' || first == '.' || last == '-' || last == '.') {
            throw new QforgeException("repo id '" + id + "': the " + what + " must not start or end with '-' or '.'");
        }
        if (part.endsWith(".git")) {
            throw new QforgeException("repo id '" + id + "': the " + what + " must not end with '.git'");
        }
        if (part.length() > MAX_LENGTH) {
            throw new QforgeException("repo id '" + abbreviate(id) + "': the " + what + " is too long");
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    /** A single path segment for local storage: owner--name, as in the Hub's own cache layout. */
    public String directoryName() {
        return owner + "--" + name;
    }

    @Override
    public String toString() {
        return owner + "/" + name;
    }
}
