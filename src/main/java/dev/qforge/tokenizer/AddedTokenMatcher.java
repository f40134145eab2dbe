package dev.qforge.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added tokens in text the way HF does: scanning left to right, at the first position where some token
 * matches take the longest one; then honour single_word (skip a match inside a word) and lstrip/rstrip (the
 * match swallows neighbouring whitespace). A trie over the token texts keeps the scan linear in practice.
 */
final class AddedTokenMatcher {
    /** A stretch of text [start, end): an added token, or plain text when token is null. */
    record Segment(int start, int end, AddedToken token) {
    }

    private static final class Node {
        final Map<Character, Node> children = new HashMap<>(4);
        AddedToken token;
    }

    private final Node root = new Node();
    private final boolean empty;
    /** Characters that start some token: most positions of a text are rejected by this alone, without a map lookup. */
    private final java.util.BitSet firstChars = new java.util.BitSet(128);

    AddedTokenMatcher(List<AddedToken> tokens) {
        boolean any = false;
        for (AddedToken t : tokens) {
            if (t.content().isEmpty()) {
                continue;
            }
            Node node = root;
            firstChars.set(t.content().charAt(0));
            for (int i = 0; i < t.content().length(); i++) {
                node = node.children.computeIfAbsent(t.content().charAt(i), c -> new Node());
            }
            if (node.token == null) { // the first of two identical contents wins
                node.token = t;
            }
            any = true;
        }
        empty = !any;
    }

    List<Segment> split(String text) {
        if (empty) {
            return List.of(new Segment(0, text.length(), null));
        }
        List<Segment> out = new ArrayList<>();
        int textStart = 0;
        int i = 0;
        while (i < text.length()) {
            Node first = firstChars.get(text.charAt(i)) ? root.children.get(text.charAt(i)) : null;
            if (first == null) {
                i++;
                continue;
            }
            AddedToken best = null;
            int bestEnd = -1;
            Node node = first;
            for (int j = i + 1; ; j++) {
                if (node.token != null) {
                    best = node.token;
                    bestEnd = j;
                }
                if (j >= text.length() || (node = node.children.get(text.charAt(j))) == null) {
                    break;
                }
            }
            if (best == null) {
                i++;
                continue;
            }
            int start = i;
            int end = bestEnd;
            if (best.singleWord() && (isWordCharBefore(text, start) || isWordCharAt(text, end))) {
                i++; // HF drops such a match (it does not look for a shorter one)
                continue;
            }
            if (best.lstrip()) {
                while (start > textStart && Character.isWhitespace(text.codePointBefore(start))) {
                    start -= Character.charCount(text.codePointBefore(start));
                }
            }
            if (best.rstrip()) {
                while (end < text.length() && Character.isWhitespace(text.codePointAt(end))) {
                    end += Character.charCount(text.codePointAt(end));
                }
            }
            if (start > textStart) {
                out.add(new Segment(textStart, start, null));
            }
            out.add(new Segment(start, end, best));
            textStart = end;
            i = end;
        }
        if (textStart < text.length() || out.isEmpty()) {
            out.add(new Segment(textStart, text.length(), null));
        }
        return out;
    }

    private static boolean isWordCharBefore(String text, int index) {
        return index > 0 && isWordChar(text.codePointBefore(index));
    }

    private static boolean isWordCharAt(String text, int index) {
        return index < text.length() && isWordChar(text.codePointAt(index));
    }

    private static boolean isWordChar(int cp) {
        return Character.isLetterOrDigit(cp) || cp == '_';
    }
}
