package dev.qforge.format;

import dev.qforge.SharedData;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class SafetensorsFileTest {
    @Test
    void readsRealModel() {
        try (var f = SafetensorsFile.open(SharedData.require("models/stories260K/hf/model.safetensors"))) {
            assertEquals(47, f.names().size());
            Tensor embed = f.tensor("model.embed_tokens.weight");
            assertEquals(DType.F32, embed.dtype());
            assertArrayEquals(new long[]{512, 64}, embed.shape());
            assertEquals("pt", f.metadata().get("format"));
        }
    }

    @Test
    void readsReferenceTokenIds() {
        try (var f = SafetensorsFile.open(SharedData.require("reference/tokenizers/gpt2-tokens-hf.safetensors"))) {
            int[] ids = f.tensor("tricky").toIntArray();
            assertEquals(194, ids.length);
        }
    }
}
