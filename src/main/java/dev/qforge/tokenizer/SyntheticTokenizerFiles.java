package dev.qforge.tokenizer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.format.AtomicFile;
import dev.qforge.format.JsonFiles;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes a Llama-3-style byte-level BPE tokenizer (tokenizer.json + tokenizer_config.json) of any
 * vocabulary size for synthetic models: 256 byte tokens, deterministic merges of letters into longer
 * pieces, and two special tokens at the end, {@code <|begin_of_text|>} (prepended by the
 * post-processor) and {@code <|end_of_text|>}. Real text tokenizes with it; the pieces mean nothing.
 */
public final class SyntheticTokenizerFiles {
    public static final String BOS = "<|begin_of_text|>";
    public static final String EOS = "<|end_of_text|>";
    private static final String GPT2_REGEX =
            "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    private SyntheticTokenizerFiles() {
    }

    /** Ids of BOS and EOS for a vocabulary of this size. */
    public static int bosId(int vocabSize) {
        return vocabSize - 2;
    }

    public static int eosId(int vocabSize) {
        return vocabSize - 1;
    }

    public static void write(Path dir, int vocabSize, int maxLength) {
        if (vocabSize < 258) {
            throw new IllegalArgumentException("a byte-level vocabulary needs at least 258 tokens, not " + vocabSize);
        }
        List<String> pieces = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            pieces.add(String.valueOf(ByteLevelAlphabet.charOf(b)));
        }
        List<String[]> merges = merges(pieces, vocabSize - 2);

        ObjectNode root = JsonFiles.mapper().createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        addSpecial(added, bosId(vocabSize), BOS);
        addSpecial(added, eosId(vocabSize), EOS);
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode steps = pre.putArray("pretokenizers");
        ObjectNode split = steps.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", GPT2_REGEX);
        split.put("behavior", "Isolated");
        split.put("invert", false);
        ObjectNode byteLevel = steps.addObject();
        byteLevel.put("type", "ByteLevel");
        byteLevel.put("add_prefix_space", false);
        byteLevel.put("trim_offsets", true);
        byteLevel.put("use_regex", false);
        ObjectNode post = root.putObject("post_processor");
        post.put("type", "TemplateProcessing");
        ArrayNode single = post.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        ArrayNode pair = post.putArray("pair");
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
        pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 1);
        pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
        ObjectNode special = post.putObject("special_tokens").putObject(BOS);
        special.put("id", BOS);
        special.putArray("ids").add(bosId(vocabSize));
        special.putArray("tokens").add(BOS);
        ObjectNode decoder = root.putObject("decoder");
        decoder.put("type", "ByteLevel");
        decoder.put("add_prefix_space", true);
        decoder.put("trim_offsets", true);
        decoder.put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "");
        model.put("end_of_word_suffix", "");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("ignore_merges", true);
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < pieces.size(); i++) {
            vocab.put(pieces.get(i), i);
        }
        ArrayNode mergeArray = model.putArray("merges");
        for (String[] m : merges) {
            mergeArray.addArray().add(m[0]).add(m[1]);
        }
        write(dir.resolve("tokenizer.json"), root.toString());

        ObjectNode config = JsonFiles.mapper().createObjectNode();
        config.put("tokenizer_class", "PreTrainedTokenizerFast");
        config.put("bos_token", BOS);
        config.put("eos_token", EOS);
        config.put("add_bos_token", true);
        config.put("clean_up_tokenization_spaces", false);
        config.put("model_max_length", maxLength);
        write(dir.resolve("tokenizer_config.json"), config.toPrettyString());
    }

    /** Appends merged pieces to {@code pieces} until it holds {@code target} entries; returns the merges in rank order. */
    private static List<String[]> merges(List<String> pieces, int target) {
        String letters = "etaoinshrdlucmfwypvbgkjqxzETAOINSHRDLUCMFWYPVBGKJQXZ";
        List<String> starts = new ArrayList<>();
        starts.add(String.valueOf(ByteLevelAlphabet.charOf(' ')));
        for (char ch : letters.toCharArray()) {
            starts.add(String.valueOf(ch));
        }
        Set<String> seen = new LinkedHashSet<>(pieces);
        List<String[]> merges = new ArrayList<>();
        List<String> frontier = starts;
        while (pieces.size() < target) {
            List<String> next = new ArrayList<>();
            for (String left : frontier) {
                for (char ch : letters.toCharArray()) {
                    String right = String.valueOf(ch);
                    String merged = left + right;
                    if (pieces.size() >= target) {
                        return merges;
                    }
                    if (seen.add(merged)) {
                        pieces.add(merged);
                        merges.add(new String[]{left, right});
                        next.add(merged);
                    }
                }
            }
            frontier = next;
        }
        return merges;
    }

    private static void addSpecial(ArrayNode added, int id, String content) {
        ObjectNode t = added.addObject();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
    }

    private static void write(Path file, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(file, out -> out.write(bytes));
    }
}
