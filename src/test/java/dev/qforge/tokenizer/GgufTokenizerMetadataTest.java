package dev.qforge.tokenizer;

import dev.qforge.SharedData;
import dev.qforge.format.GgufValue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tokenizer metadata for llama.cpp from tokenizer.json. */
class GgufTokenizerMetadataTest {
    @ParameterizedTest
    @CsvSource({"gpt2, gpt-2, false", "qwen2.5, qwen2, false", "llama3, llama-bpe, true"})
    void byteLevelTokenizers(String name, String pre, boolean addBos) {
        Path dir = SharedData.require("tokenizers/" + name);
        Tokenizer t = Tokenizer.load(dir);
        Map<String, GgufValue> m = GgufTokenizerMetadata.of(dir, t, t.vocabSize() + 3);
        assertEquals("gpt2", m.get("tokenizer.ggml.model").stringAt(0));
        assertEquals(pre, m.get("tokenizer.ggml.pre").stringAt(0));
        List<String> tokens = m.get("tokenizer.ggml.tokens").toStringList();
        assertEquals(t.vocabSize() + 3, tokens.size());
        assertEquals("[PAD3]", tokens.getLast());
        long[] types = m.get("tokenizer.ggml.token_type").toLongArray();
        assertEquals(GgufTokenizerMetadata.UNUSED, types[types.length - 1]);
        for (int id = 0; id < t.vocabSize(); id++) {
            assertEquals(t.tokenText(id), tokens.get(id), "token " + id);
            if (t.isSpecial(id)) {
                assertEquals(GgufTokenizerMetadata.CONTROL, types[id], tokens.get(id));
            }
        }
        assertFalse(m.containsKey("tokenizer.ggml.scores"));
        assertTrue(m.get("tokenizer.ggml.merges").size() > 40000);
        assertEquals(addBos, m.get("tokenizer.ggml.add_bos_token").boolAt(0));
        if (t.eosId().isPresent()) {
            assertEquals(t.eosId().getAsInt(), m.get("tokenizer.ggml.eos_token_id").longAt(0));
        }
    }

    @Test
    void sentencePieceScoresComeFromTheMergeRanks() {
        // The same as the real tokenizer.model's scores: llama.cpp's file for this model has them (and the export's
        // byte-identity test compares the whole array); here the shape of the rule.
        Path dir = SharedData.require("models/qforge-tiny-llama/hf");
        Tokenizer t = Tokenizer.load(dir);
        Map<String, GgufValue> m = GgufTokenizerMetadata.of(dir, t, 4096);
        assertEquals("llama", m.get("tokenizer.ggml.model").stringAt(0));
        assertEquals("default", m.get("tokenizer.ggml.pre").stringAt(0));
        float[] s = m.get("tokenizer.ggml.scores").toFloatArray();
        long[] types = m.get("tokenizer.ggml.token_type").toLongArray();
        assertEquals(-1000f, s[0]);
        assertEquals(GgufTokenizerMetadata.CONTROL, types[1]);
        assertEquals(GgufTokenizerMetadata.BYTE, types[3]);
        assertEquals(0f, s[3]);
        int id = t.tokenId("\u2581t").getAsInt(); // the first merge
        assertEquals(Float.floatToIntBits(-0f), Float.floatToIntBits(s[id]));
        assertEquals(-1f, s[t.tokenId("he").getAsInt()]);
        assertFalse(m.containsKey("tokenizer.ggml.merges"));
    }
}
