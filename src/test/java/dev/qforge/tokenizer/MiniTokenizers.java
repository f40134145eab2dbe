package dev.qforge.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** Small tokenizer.json files written by tests, so the algorithms are covered without shared/data. */
final class MiniTokenizers {
    static final ObjectMapper JSON = new ObjectMapper();

    private MiniTokenizers() {
    }

    /**
     * A SentencePiece-style (Llama 2) tokenizer: &lt;unk&gt; &lt;s&gt; &lt;/s&gt;, optionally the 256 byte tokens, then
     * the given pieces; Prepend/Replace normalizer, BOS template, Replace/ByteFallback/Fuse/Strip decoder.
     */
    static ObjectNode sentencePiece(List<String> pieces, List<String> merges, boolean byteFallback, boolean fuseUnk) {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode added = root.putArray("added_tokens");
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < 3; i++) {
            added.addObject().put("id", i).put("content", specials[i]).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
        }
        ObjectNode normalizer = root.putObject("normalizer").put("type", "Sequence");
        ArrayNode steps = normalizer.putArray("normalizers");
        steps.addObject().put("type", "Prepend").put("prepend", "▁");
        ObjectNode replace = steps.addObject().put("type", "Replace");
        replace.putObject("pattern").put("String", " ");
        replace.put("content", "▁");
        root.putNull("pre_tokenizer");
        ObjectNode post = root.putObject("post_processor").put("type", "TemplateProcessing");
        post.putArray("single").addObject().putObject("SpecialToken").put("id", "<s>").put("type_id", 0);
        ((ArrayNode) post.get("single")).addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        post.putObject("special_tokens").putObject("<s>").put("id", "<s>").putArray("ids").add(1);
        ObjectNode decoder = root.putObject("decoder").put("type", "Sequence");
        ArrayNode ds = decoder.putArray("decoders");
        ObjectNode dr = ds.addObject().put("type", "Replace");
        dr.putObject("pattern").put("String", "▁");
        dr.put("content", " ");
        ds.addObject().put("type", "ByteFallback");
        ds.addObject().put("type", "Fuse");
        ds.addObject().put("type", "Strip").put("content", " ").put("start", 1).put("stop", 0);
        ObjectNode model = root.putObject("model").put("type", "BPE").put("unk_token", "<unk>")
                .put("fuse_unk", fuseUnk).put("byte_fallback", byteFallback);
        ObjectNode vocab = model.putObject("vocab");
        int id = 0;
        for (String s : specials) {
            vocab.put(s, id++);
        }
        if (byteFallback) {
            for (int b = 0; b < 256; b++) {
                vocab.put(String.format("<0x%02X>", b), id++);
            }
        }
        for (String p : pieces) {
            vocab.put(p, id++);
        }
        ArrayNode m = model.putArray("merges");
        for (String merge : merges) {
            m.addArray().add(merge.split(" ")[0]).add(merge.split(" ")[1]);
        }
        return root;
    }

    /** A byte-level (GPT-2 style) tokenizer: the 256 byte characters, then pieces; merges as "a b" strings. */
    static ObjectNode byteLevel(List<String> pieces, List<String> merges) {
        ObjectNode root = JSON.createObjectNode();
        root.putArray("added_tokens").addObject().put("id", 256 + pieces.size()).put("content", "<|endoftext|>")
                .put("special", true).put("normalized", false);
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("use_regex", true);
        root.putObject("post_processor").put("type", "ByteLevel");
        root.putObject("decoder").put("type", "ByteLevel");
        ObjectNode model = root.putObject("model").put("type", "BPE");
        ObjectNode vocab = model.putObject("vocab");
        int id = 0;
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(ByteLevelAlphabet.charOf(b)), id++);
        }
        for (String p : pieces) {
            vocab.put(p, id++);
        }
        ArrayNode m = model.putArray("merges");
        merges.forEach(m::add);
        return root;
    }

    static Tokenizer load(Path dir, ObjectNode tokenizerJson) {
        write(dir.resolve("tokenizer.json"), tokenizerJson.toString());
        return Tokenizer.load(dir);
    }

    static void write(Path file, String text) {
        try {
            Files.writeString(file, text);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
