package dev.qforge.hub;

import dev.qforge.QforgeException;

import java.util.regex.Pattern;

/**
 * A shell-style pattern for --include/--exclude, with Python fnmatch semantics because that is what
 * huggingface_hub's allow_patterns/ignore_patterns use and users copy patterns between the two tools:
 * '*' matches any run of characters including '/', '?' one character, [abc] / [!abc] a set.
 * As in huggingface_hub, a pattern ending in '/' means everything under that folder.
 */
public final class Glob {
    private final String text;
    private final Pattern regex;

    private Glob(String text, Pattern regex) {
        this.text = text;
        this.regex = regex;
    }

    public static Glob of(String pattern) {
        if (pattern == null || pattern.isEmpty()) {
            throw new QforgeException("empty file pattern: give a glob such as '*.safetensors'");
        }
        String p = pattern.endsWith("/") ? pattern + "*" : pattern;
        return new Glob(pattern, Pattern.compile(toRegex(p), Pattern.DOTALL));
    }

    public boolean matches(String path) {
        return regex.matcher(path).matches();
    }

    private static String toRegex(String p) {
        StringBuilder re = new StringBuilder();
        int i = 0;
        while (i < p.length()) {
            char c = p.charAt(i++);
            switch (c) {
                case '*' -> re.append(".*");
                case '?' -> re.append('.');
                case '[' -> {
                    int close = findClass(p, i);
                    if (close < 0) {
                        re.append("\\[");   // an unclosed '[' is a literal, as in fnmatch
                    } else {
                        String body = p.substring(i, close);
                        i = close + 1;
                        re.append('[');
                        if (body.startsWith("!")) {
                            re.append('^');
                            body = body.substring(1);
                        }
                        for (char b : body.toCharArray()) {
                            // Only '-' keeps its meaning inside a set; everything else is literal.
                            if (b == '-' || Character.isLetterOrDigit(b)) {
                                re.append(b);
                            } else {
                                re.append('\\').append(b);   // escaping a non-letter is always literal in a Java regex
                            }
                        }
                        re.append(']');
                    }
                }
                default -> re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return re.toString();
    }

    /** Index of the ']' closing a set that starts at {@code from}; a ']' right after '[' or '[!' is literal. */
    private static int findClass(String p, int from) {
        int j = from;
        if (j < p.length() && p.charAt(j) == '!') {
            j++;
        }
        if (j < p.length() && p.charAt(j) == ']') {
            j++;
        }
        return p.indexOf(']', j);
    }

    @Override
    public String toString() {
        return text;
    }
}
