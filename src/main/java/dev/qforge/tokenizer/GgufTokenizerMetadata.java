package dev.qforge.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qforge.QforgeException;
import dev.qforge.format.GgufValue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * The {@code tokenizer.ggml.*} metadata llama.cpp needs to tokenize as a Hugging Face tokenizer.json does:
 * model ('llama' for SentencePiece-style BPE with byte fallback, 'gpt2' for byte-level BPE), the
 * pre-tokenizer name llama.cpp knows the byte-level split regex by, tokens, token types, scores (llama) or
 * merges (gpt2), special ids and the BOS/EOS flags.
 *
 * <p>llama.cpp's 'llama' tokenizer merges the adjacent pair whose result has the highest score, where Hugging
 * Face merges the pair of lowest merge rank. A piece first produced by merge rank r therefore gets a score
 * that orders pieces as the merges do: the k-th such piece (by rank) scores -k, and pieces no merge produces
 * come after them in id order. For a tokenizer converted from SentencePiece these are exactly the scores of
 * its tokenizer.model. Added tokens score -1000 and are control (special) or user-defined, as llama.cpp's
 * converter writes them; byte tokens {@code <0xXX>} are byte tokens of score 0.
 */
public final class GgufTokenizerMetadata {
    /** llama.cpp's token types (llama_token_type). */
    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;

    private static final Pattern BYTE_TOKEN = Pattern.compile("<0x[0-9A-Fa-f]{2}>");

    /** Byte-level split regexes llama.cpp recognizes, by its pre-tokenizer name. */
    private static final Map<String, String> KNOWN_REGEX = Map.of(
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
            "llama-bpe",
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
            "qwen2",
            dev.qforge.tokenizer.PreTokenizer.GPT2_REGEX,
            "gpt-2");

    private GgufTokenizerMetadata() {
    }

    /**
     * The metadata for the tokenizer of {@code modelDir}, padded to {@code vocabSize} entries (the embedding's
     * rows), in the order llama.cpp's converter writes it.
     */
    public static Map<String, GgufValue> of(Path modelDir, Tokenizer tokenizer, int vocabSize) {
        Path file = modelDir.resolve(TokenizerJson.TOKENIZER_JSON);
        JsonNode root = TokenizerJson.readJson(file, true);
        JsonNode config = TokenizerJson.readJson(modelDir.resolve(TokenizerJson.TOKENIZER_CONFIG_JSON), false);
        JsonNode model = root.path("model");
        if (!model.path("vocab").isObject()) {
            throw new QforgeException(file + ": no model.vocab");
        }
        if (tokenizer.vocabSize() > vocabSize) {
            throw new QforgeException(file + ": " + tokenizer.vocabSize() + " tokens, more than the model's vocab_size " + vocabSize);
        }
        String kind = kind(root);
        String[] tokens = new String[vocabSize];
        for (Map.Entry<String, JsonNode> e : model.get("vocab").properties()) {
            int id = e.getValue().asInt();
            if (id < vocabSize) {
                tokens[id] = e.getKey();
            }
        }
        Map<Integer, Boolean> added = new HashMap<>(); // id → special
        for (JsonNode t : root.path("added_tokens")) {
            int id = t.path("id").asInt(-1);
            if (id >= 0 && id < vocabSize) {
                tokens[id] = t.path("content").asText();
                added.put(id, t.path("special").asBoolean(false));
            }
        }
        int[] types = new int[vocabSize];
        int pad = 0;
        for (int i = 0; i < vocabSize; i++) {
            if (tokens[i] == null) {
                tokens[i] = "[PAD" + (++pad) + "]";
                types[i] = UNUSED;
            } else if (added.containsKey(i)) {
                if (added.get(i) || looksSpecial(tokens[i])) {
                    types[i] = CONTROL;
                } else {
                    types[i] = USER_DEFINED;
                    if (kind.equals("llama")) {
                        tokens[i] = tokens[i].replace("\u2581", " ");
                    }
                }
            } else if (kind.equals("llama") && BYTE_TOKEN.matcher(tokens[i]).matches()) {
                types[i] = BYTE;
            } else {
                types[i] = NORMAL;
            }
        }

        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("tokenizer.ggml.model", GgufValue.string(kind));
        m.put("tokenizer.ggml.pre", GgufValue.string(kind.equals("llama") ? "default" : preTokenizer(file, root)));
        m.put("tokenizer.ggml.tokens", GgufValue.stringArray(List.of(tokens)));
        List<String[]> merges = merges(file, model);
        if (kind.equals("llama")) {
            m.put("tokenizer.ggml.scores", GgufValue.float32Array(scores(tokens, types, merges)));
        }
        m.put("tokenizer.ggml.token_type", GgufValue.int32Array(types));
        if (kind.equals("gpt2")) {
            List<String> lines = new ArrayList<>(merges.size());
            for (String[] mg : merges) {
                lines.add(mg[0] + " " + mg[1]);
            }
            m.put("tokenizer.ggml.merges", GgufValue.stringArray(lines));
        }
        OptionalInt bos = tokenizer.bosId();
        OptionalInt eos = tokenizer.eosId();
        bos.ifPresent(id -> m.put("tokenizer.ggml.bos_token_id", GgufValue.uint32(id)));
        eos.ifPresent(id -> m.put("tokenizer.ggml.eos_token_id", GgufValue.uint32(id)));
        if (model.hasNonNull("unk_token")) {
            OptionalInt unk = tokenizer.tokenId(model.get("unk_token").asText());
            unk.ifPresent(id -> m.put("tokenizer.ggml.unknown_token_id", GgufValue.uint32(id)));
        }
        if (config != null) {
            String padText = tokenText(config.get("pad_token"));
            if (padText != null) {
                tokenizer.tokenId(padText).ifPresent(id -> m.put("tokenizer.ggml.padding_token_id", GgufValue.uint32(id)));
            }
        }
        int[] empty = tokenizer.encode("", true);
        boolean addBos = tokenizer.addsBos();
        boolean addEos = empty.length > 0 && eos.isPresent() && empty[empty.length - 1] == eos.getAsInt()
                && !(addBos && empty.length == 1);
        m.put("tokenizer.ggml.add_bos_token", GgufValue.bool(addBos));
        m.put("tokenizer.ggml.add_eos_token", GgufValue.bool(addEos));
        if (kind.equals("llama") && !prependsSpace(root)) {
            m.put("tokenizer.ggml.add_space_prefix", GgufValue.bool(false));
        }
        if (config != null && config.path("chat_template").isTextual()) {
            m.put("tokenizer.chat_template", GgufValue.string(config.get("chat_template").asText()));
        }
        return m;
    }

    /** 'gpt2' when the tokenizer works on bytes mapped to printable characters, else 'llama'. */
    static String kind(JsonNode root) {
        if (hasType(root.path("pre_tokenizer"), "ByteLevel", "pretokenizers") || hasType(root.path("decoder"), "ByteLevel", "decoders")) {
            return "gpt2";
        }
        return "llama";
    }

    private static boolean hasType(JsonNode node, String type, String listKey) {
        if (node == null || node.isNull() || node.isMissingNode()) {
            return false;
        }
        if (node.path("type").asText("").equals(type)) {
            return true;
        }
        for (JsonNode n : node.path(listKey)) {
            if (hasType(n, type, listKey)) {
                return true;
            }
        }
        return false;
    }

    /** llama.cpp's name for the byte-level pre-tokenizer, recognized by its split regex. */
    static String preTokenizer(Path file, JsonNode root) {
        JsonNode pre = root.path("pre_tokenizer");
        List<JsonNode> steps = new ArrayList<>();
        if (pre.path("type").asText("").equals("Sequence")) {
            pre.path("pretokenizers").forEach(steps::add);
        } else if (!pre.isMissingNode() && !pre.isNull()) {
            steps.add(pre);
        }
        if (steps.size() == 1 && steps.getFirst().path("type").asText("").equals("ByteLevel")
                && steps.getFirst().path("use_regex").asBoolean(true)) {
            return "gpt-2";
        }
        if (steps.size() == 2 && steps.get(0).path("type").asText("").equals("Digits")
                && steps.get(0).path("individual_digits").asBoolean(false)
                && steps.get(1).path("type").asText("").equals("ByteLevel") && steps.get(1).path("use_regex").asBoolean(true)) {
            return "smollm";
        }
        if (steps.size() == 2 && steps.get(0).path("type").asText("").equals("Split")
                && steps.get(1).path("type").asText("").equals("ByteLevel") && !steps.get(1).path("use_regex").asBoolean(true)) {
            String regex = steps.get(0).path("pattern").path("Regex").asText("");
            String name = KNOWN_REGEX.get(regex);
            if (name != null) {
                return name;
            }
            throw new QforgeException(file + ": byte-level split regex " + regex
                    + " is not one llama.cpp knows by name (known: llama-bpe, qwen2, gpt-2, smollm)");
        }
        throw new QforgeException(file + ": cannot tell which llama.cpp pre-tokenizer matches this pre_tokenizer "
                + pre.toString().replace('\n', ' '));
    }

    private static List<String[]> merges(Path file, JsonNode model) {
        List<String[]> out = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            if (m.isTextual()) {
                String[] parts = m.asText().split(" ", -1);
                if (parts.length != 2) {
                    throw new QforgeException(file + ": merge '" + m.asText() + "' is not two tokens");
                }
                out.add(parts);
            } else if (m.isArray() && m.size() == 2) {
                out.add(new String[]{m.get(0).asText(), m.get(1).asText()});
            } else {
                throw new QforgeException(file + ": malformed merge " + m);
            }
        }
        return out;
    }

    /**
     * SentencePiece-style scores from the merge ranks: normal pieces some merge produces score -k in order of
     * their first merge, the other normal pieces follow in id order; byte tokens 0, added tokens -1000.
     */
    static float[] scores(String[] tokens, int[] types, List<String[]> merges) {
        Map<String, Integer> firstRank = new HashMap<>();
        for (int r = 0; r < merges.size(); r++) {
            firstRank.putIfAbsent(merges.get(r)[0] + merges.get(r)[1], r);
        }
        List<int[]> merged = new ArrayList<>(); // {rank, id}
        List<Integer> rest = new ArrayList<>();
        float[] scores = new float[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            switch (types[i]) {
                case NORMAL -> {
                    Integer r = firstRank.get(tokens[i]);
                    if (r != null) {
                        merged.add(new int[]{r, i});
                    } else {
                        rest.add(i);
                    }
                }
                case BYTE -> scores[i] = 0f;
                case UNUSED -> scores[i] = -10000f;
                default -> scores[i] = -1000f;
            }
        }
        merged.sort((a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]));
        int k = 0;
        for (int[] p : merged) {
            scores[p[1]] = -(float) k++;
        }
        for (int id : rest) {
            scores[id] = -(float) k++;
        }
        return scores;
    }

    /** Whether a SentencePiece-style tokenizer puts '▁' before the text (a Prepend normalizer or Metaspace). */
    private static boolean prependsSpace(JsonNode root) {
        if (hasType(root.path("normalizer"), "Prepend", "normalizers")) {
            return true;
        }
        JsonNode pre = root.path("pre_tokenizer");
        if (hasType(pre, "Metaspace", "pretokenizers")) {
            return !pre.toString().contains("\"prepend_scheme\":\"never\"") && !pre.toString().contains("\"add_prefix_space\":false");
        }
        return false;
    }

    private static boolean looksSpecial(String t) {
        return (t.startsWith("<|") && t.endsWith("|>")) || (t.startsWith("<") && t.endsWith(">") && t.length() > 2
                && !BYTE_TOKEN.matcher(t).matches() && t.matches("<[/a-z_]+>"));
    }

    private static String tokenText(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return node.asText();
        }
        return node.path("content").isTextual() ? node.get("content").asText() : null;
    }
}
