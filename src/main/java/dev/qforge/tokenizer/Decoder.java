package dev.qforge.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The decoder step of a tokenizer.json: turns the token strings of a sequence of ids back into text. As in HF,
 * each step maps a list of strings to a list of strings (some steps, like Strip, act on each string; Fuse and
 * ByteLevel join them), and the results are concatenated at the end.
 */
public sealed interface Decoder {
    List<String> decodeChain(List<String> tokens);

    default String decode(List<String> tokens) {
        return String.join("", decodeChain(tokens));
    }

    record Sequence(List<Decoder> steps) implements Decoder {
        public Sequence {
            steps = List.copyOf(steps);
        }

        @Override
        public List<String> decodeChain(List<String> tokens) {
            for (Decoder step : steps) {
                tokens = step.decodeChain(tokens);
            }
            return tokens;
        }
    }

    /** Replaces a literal pattern in each token ("▁" → " " for SentencePiece-style files). */
    record Replace(String pattern, String content) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) {
                out.add(pattern.isEmpty() ? t : t.replace(pattern, content));
            }
            return out;
        }
    }

    /**
     * Turns runs of byte tokens {@code <0xAB>} back into text: a run that is valid UTF-8 becomes its text,
     * otherwise each of its bytes becomes U+FFFD (HF's rule, so a character cut off at the end shows as U+FFFD).
     */
    record ByteFallback() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            ByteArrayOutputStream run = new ByteArrayOutputStream();
            for (String t : tokens) {
                if (BpeModel.isByteTokenText(t)) {
                    run.write(Integer.parseInt(t.substring(3, 5), 16));
                    continue;
                }
                flush(run, out);
                out.add(t);
            }
            flush(run, out);
            return out;
        }

        private static void flush(ByteArrayOutputStream run, List<String> out) {
            if (run.size() == 0) {
                return;
            }
            byte[] bytes = run.toByteArray();
            run.reset();
            try {
                out.add(StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(bytes)).toString());
            } catch (CharacterCodingException e) {
                for (int i = 0; i < bytes.length; i++) {
                    out.add("\uFFFD");
                }
            }
        }
    }

    /** Joins all tokens into one string. */
    record Fuse() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            return List.of(String.join("", tokens));
        }
    }

    /** Removes up to start leading and up to stop trailing copies of content from each token. */
    record Strip(char content, int start, int stop) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            for (String t : tokens) {
                int from = 0;
                while (from < start && from < t.length() && t.charAt(from) == content) {
                    from++;
                }
                int to = t.length();
                while (t.length() - to < stop && to > from && t.charAt(to - 1) == content) {
                    to--;
                }
                out.add(t.substring(from, to));
            }
            return out;
        }
    }

    /**
     * Byte-level BPE: every character of every token stands for one byte; the bytes of the whole sequence are
     * decoded as UTF-8 at once (a character may be split across tokens). A token with a character outside the
     * byte alphabet (an added token such as "&lt;|im_start|&gt;" is fine, it is ASCII) contributes its own UTF-8.
     */
    record ByteLevel() implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            for (String t : tokens) {
                byte[] mapped = new byte[t.length()];
                boolean all = true;
                for (int i = 0; i < t.length() && all; i++) {
                    int b = ByteLevelAlphabet.byteOf(t.charAt(i));
                    all = b >= 0;
                    mapped[i] = (byte) b;
                }
                bytes.writeBytes(all ? mapped : t.getBytes(StandardCharsets.UTF_8));
            }
            return List.of(bytes.toString(StandardCharsets.UTF_8));
        }
    }

    /**
     * SentencePiece's "▁" back to spaces. With a prepend scheme other than "never", HF drops every "▁" of the
     * first token instead (meant for the one it prepended); we do the same.
     */
    record Metaspace(char replacement, boolean dropInFirstToken) implements Decoder {
        @Override
        public List<String> decodeChain(List<String> tokens) {
            List<String> out = new ArrayList<>(tokens.size());
            String r = String.valueOf(replacement);
            for (int i = 0; i < tokens.size(); i++) {
                out.add(tokens.get(i).replace(r, i == 0 && dropInFirstToken ? "" : " "));
            }
            return out;
        }
    }
}
