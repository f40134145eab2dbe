package dev.qforge.hub;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qforge.QforgeException;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * What the model-info API says about a repo at one revision: the commit it resolved to and its files.
 * File names come from a server, and each becomes a local path, so every name is checked here to be a
 * plain relative path; a listing with "../" in it is refused rather than written outside the target.
 *
 * @param commit the 40-hex commit the revision resolved to, or null if the server did not say
 * @param gated  true when the repo requires accepting terms (and a token) before files can be downloaded
 */
public record ModelInfo(String commit, boolean gated, List<RepoFile> files) {
    private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

    public ModelInfo {
        files = List.copyOf(files);
    }

    public static ModelInfo parse(JsonNode json, URI source) {
        if (json == null || !json.isObject()) {
            throw new QforgeException(source + ": model info is not a JSON object");
        }
        JsonNode siblings = json.get("siblings");
        if (siblings == null || !siblings.isArray()) {
            throw new QforgeException(source + ": model info has no 'siblings' file list");
        }
        List<RepoFile> files = new ArrayList<>();
        for (JsonNode s : siblings) {
            JsonNode name = s.get("rfilename");
            if (name == null || !name.isTextual()) {
                throw new QforgeException(source + ": a 'siblings' entry has no 'rfilename'");
            }
            String path = name.asText();
            checkPath(path, source);
            files.add(new RepoFile(path, sizeOf(s), hashOf(s)));
        }
        String sha = json.path("sha").asText(null);
        String commit = sha != null && COMMIT.matcher(sha).matches() ? sha : null;
        // "gated" is false, or "auto"/"manual" naming how access is granted.
        JsonNode gated = json.get("gated");
        boolean isGated = gated != null && !gated.isNull() && !(gated.isBoolean() && !gated.asBoolean());
        return new ModelInfo(commit, isGated, files);
    }

    private static long sizeOf(JsonNode s) {
        JsonNode lfs = s.get("lfs");
        if (lfs != null && lfs.path("size").canConvertToLong()) {
            return lfs.get("size").asLong();
        }
        JsonNode size = s.get("size");
        return size != null && size.canConvertToLong() && size.asLong() >= 0 ? size.asLong() : -1;
    }

    private static ExpectedHash hashOf(JsonNode s) {
        // For an LFS file the blobId is the hash of the small pointer file, not of the content: use lfs.sha256.
        JsonNode lfs = s.get("lfs");
        if (lfs != null && lfs.isObject()) {
            ExpectedHash h = ExpectedHash.fromEtag(lfs.path("sha256").asText(null));
            return h != null && h.kind() == ExpectedHash.Kind.SHA256 ? h : null;
        }
        ExpectedHash h = ExpectedHash.fromEtag(s.path("blobId").asText(null));
        return h != null && h.kind() == ExpectedHash.Kind.GIT_BLOB_SHA1 ? h : null;
    }

    static void checkPath(String path, URI source) {
        boolean bad = path.isEmpty() || path.startsWith("/") || path.contains("\\") || path.indexOf('\0') >= 0;
        for (String segment : path.split("/", -1)) {
            bad |= segment.isEmpty() || segment.equals(".") || segment.equals("..");
        }
        if (bad) {
            throw new QforgeException(source + ": refusing unsafe file name '" + path + "' in the repo listing");
        }
    }

    public boolean hasSafetensors() {
        return files.stream().anyMatch(f -> f.path().endsWith(".safetensors"));
    }

    public RepoFile file(String path) {
        return files.stream().filter(f -> f.path().equals(path)).findFirst().orElse(null);
    }
}
