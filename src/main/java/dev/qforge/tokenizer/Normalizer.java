package dev.qforge.tokenizer;

import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The normalizer step of a tokenizer.json: rewrites each stretch of text between added tokens before it is
 * split into words. SentencePiece-style Llama files use Prepend("▁") + Replace(" " → "▁") here; Qwen uses NFC.
 */
public sealed interface Normalizer {
    String normalize(String text);

    /** Steps applied in order. */
    record Sequence(List<Normalizer> steps) implements Normalizer {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public String normalize(String text) {
            for (Normalizer step : steps) {
                text = step.normalize(text);
            }
            return text;
        }
    }

    /** Puts prefix before non-empty text (HF leaves empty text alone, so no stray "▁" appears). */
    record Prepend(String prefix) implements Normalizer {
        @Override
        public String normalize(String text) {
            return text.isEmpty() ? text : prefix + text;
        }
    }

    /** Replaces every match of a literal string or a regex by content (taken literally). */
    record Replace(String literal, Pattern regex, String content) implements Normalizer {
        public static Replace literal(String literal, String content) {
            return new Replace(literal, null, content);
        }

        public static Replace regex(Pattern regex, String content) {
            return new Replace(null, regex, content);
        }

        @Override
        public String normalize(String text) {
            if (regex == null) {
                return literal.isEmpty() ? text : text.replace(literal, content);
            }
            return regex.matcher(text).replaceAll(Matcher.quoteReplacement(content));
        }
    }

    /** NFC, NFD, NFKC or NFKD. */
    record Unicode(java.text.Normalizer.Form form) implements Normalizer {
        @Override
        public String normalize(String text) {
            return java.text.Normalizer.isNormalized(text, form) ? text : java.text.Normalizer.normalize(text, form);
        }
    }

    record Lowercase() implements Normalizer {
        @Override
        public String normalize(String text) {
            return text.toLowerCase(Locale.ROOT);
        }
    }

    /** Removes whitespace at the start and/or the end. */
    record Strip(boolean left, boolean right) implements Normalizer {
        @Override
        public String normalize(String text) {
            if (left) {
                text = text.stripLeading();
            }
            return right ? text.stripTrailing() : text;
        }
    }
}
