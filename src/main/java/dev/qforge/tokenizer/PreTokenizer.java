package dev.qforge.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The pre-tokenizer step of a tokenizer.json: cuts normalized text into words that BPE encodes one by one
 * (merges never cross a word boundary), and for byte-level BPE rewrites each word as byte characters.
 */
public sealed interface PreTokenizer {
    /**
     * Appends the words of text to out.
     *
     * @param atTextStart whether text begins at the start of the whole input (not after an added token);
     *                    Metaspace with prepend_scheme "first" only adds its "▁" there
     */
    void split(String text, boolean atTextStart, List<String> out);

    /** GPT-2's pre-tokenizer regex, used by ByteLevel with use_regex. */
    String GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /**
     * Compiles a pre-tokenizer regex of HF (Oniguruma syntax) for java.util.regex. The syntax used by real
     * files (\p{L}, \p{N}, (?i:...), \s+(?!\S), {1,3}) means the same in both; Unicode classes make \s, \w, \d
     * Unicode-aware as in Oniguruma. Both are backtracking engines that take the first alternative that
     * matches, so the leftmost match found is the same.
     */
    static Pattern compileRegex(String regex) {
        return Pattern.compile(regex, Pattern.UNICODE_CHARACTER_CLASS);
    }

    /** Steps applied in order, each to every piece the previous one produced. */
    record Sequence(List<PreTokenizer> steps) implements PreTokenizer {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public void split(String text, boolean atTextStart, List<String> out) {
            List<String> pieces = List.of(text);
            for (PreTokenizer step : steps) {
                List<String> next = new ArrayList<>(pieces.size() * 2);
                for (int i = 0; i < pieces.size(); i++) {
                    step.split(pieces.get(i), atTextStart && i == 0, next);
                }
                pieces = next;
            }
            out.addAll(pieces);
        }
    }

    /** Splits on a regex or literal pattern (HF "Split"). */
    record Split(Pattern pattern, SplitBehavior behavior, boolean invert) implements PreTokenizer {
        @Override
        public void split(String text, boolean atTextStart, List<String> out) {
            Matcher m = pattern.matcher(text);
            if (behavior == SplitBehavior.ISOLATED) { // the common case (all byte-level files): no bookkeeping
                int last = 0;
                while (m.find()) {
                    if (m.start() > last) {
                        out.add(text.substring(last, m.start()));
                    }
                    if (m.end() > m.start()) {
                        out.add(text.substring(m.start(), m.end()));
                    }
                    last = m.end();
                }
                if (last < text.length()) {
                    out.add(text.substring(last));
                }
                return;
            }
            int[] starts = new int[16];
            boolean[] isMatch = new boolean[16];
            int count = 0;
            int last = 0;
            while (true) {
                boolean found = m.find();
                int start = found ? m.start() : text.length();
                for (int pass = 0; pass < 2; pass++) {
                    int from = pass == 0 ? last : start;
                    int to = pass == 0 ? start : (found ? m.end() : start);
                    if (to > from) {
                        if (count + 2 > starts.length) {
                            starts = java.util.Arrays.copyOf(starts, starts.length * 2);
                            isMatch = java.util.Arrays.copyOf(isMatch, isMatch.length * 2);
                        }
                        starts[count] = from;
                        isMatch[count] = (pass == 1) != invert;
                        count++;
                    }
                }
                if (!found) {
                    break;
                }
                last = m.end();
            }
            starts[count] = text.length();
            behavior.apply(text, starts, isMatch, count, out);
        }
    }

    /** Byte-level BPE's pre-tokenizer: optional leading space, optional GPT-2 regex split, bytes as characters. */
    record ByteLevel(boolean addPrefixSpace, boolean useRegex) implements PreTokenizer {
        private static final Pattern GPT2 = compileRegex(GPT2_REGEX);

        @Override
        public void split(String text, boolean atTextStart, List<String> out) {
            // HF adds the space to every piece it gets, not only to the first one of the input.
            if (addPrefixSpace && !text.startsWith(" ")) {
                text = " " + text;
            }
            if (!useRegex) {
                out.add(ByteLevelAlphabet.encode(text));
                return;
            }
            List<String> words = new ArrayList<>();
            new Split(GPT2, SplitBehavior.ISOLATED, false).split(text, atTextStart, words);
            for (String w : words) {
                out.add(ByteLevelAlphabet.encode(w));
            }
        }
    }

    /** SentencePiece's whitespace handling: spaces become "▁", optionally one "▁" in front, split before each "▁". */
    record Metaspace(char replacement, PrependScheme prependScheme, boolean splitWords) implements PreTokenizer {
        public enum PrependScheme { ALWAYS, FIRST, NEVER }

        @Override
        public void split(String text, boolean atTextStart, List<String> out) {
            String r = String.valueOf(replacement);
            text = text.replace(" ", r);
            boolean prepend = switch (prependScheme) {
                case ALWAYS -> true;
                case FIRST -> atTextStart;
                case NEVER -> false;
            };
            if (prepend && !text.startsWith(r)) {
                text = r + text;
            }
            if (!splitWords) {
                out.add(text);
                return;
            }
            int start = 0;
            for (int i = 1; i < text.length(); i++) {
                if (text.charAt(i) == replacement) {
                    out.add(text.substring(start, i));
                    start = i;
                }
            }
            if (start < text.length()) {
                out.add(text.substring(start));
            }
        }
    }

    /** Splits digits from the rest; with individualDigits each digit is its own piece. */
    record Digits(boolean individualDigits) implements PreTokenizer {
        private static final Pattern DIGIT = Pattern.compile("\\p{Nd}");
        private static final Pattern DIGITS = Pattern.compile("\\p{Nd}+");

        @Override
        public void split(String text, boolean atTextStart, List<String> out) {
            new Split(individualDigits ? DIGIT : DIGITS, SplitBehavior.ISOLATED, false).split(text, atTextStart, out);
        }
    }

    /** Splits on whitespace, which is dropped. */
    record WhitespaceSplit() implements PreTokenizer {
        private static final Pattern WHITESPACE = compileRegex("\\s+");

        @Override
        public void split(String text, boolean atTextStart, List<String> out) {
            new Split(WHITESPACE, SplitBehavior.REMOVED, false).split(text, atTextStart, out);
        }
    }

    /** Words and runs of punctuation ("\w+|[^\w\s]+"); whitespace is dropped. */
    record Whitespace() implements PreTokenizer {
        private static final Pattern WORDS = compileRegex("\\w+|[^\\w\\s]+");

        @Override
        public void split(String text, boolean atTextStart, List<String> out) {
            new Split(WORDS, SplitBehavior.REMOVED, true).split(text, atTextStart, out);
        }
    }
}
