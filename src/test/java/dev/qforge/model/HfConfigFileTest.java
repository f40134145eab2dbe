package dev.qforge.model;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** config.json of each family as the Hub has them (abridged), and the mistakes a config can hold. */
class HfConfigFileTest {
    @TempDir
    Path dir;

    private ModelConfig read(String json) throws IOException {
        Path p = dir.resolve("config" + System.nanoTime() + ".json");
        Files.writeString(p, json);
        return HfConfigFile.read(p);
    }

    @Test
    void llama32WithLlama3RopeScalingAndTiedEmbeddings() throws IOException {
        ModelConfig c = read("""
                {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192,
                 "num_hidden_layers": 16, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 64,
                 "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
                 "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                  "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                 "tie_word_embeddings": true, "hidden_act": "silu", "attention_bias": false, "mlp_bias": false,
                 "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "torch_dtype": "bfloat16"}""");
        assertEquals(ModelFamily.LLAMA, c.family());
        assertEquals(RopeScaling.Type.LLAMA3, c.ropeScaling().type());
        assertEquals(32.0, c.ropeScaling().factor());
        assertEquals(8192, c.ropeScaling().originalMaxPositions());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(128001, c.eosTokenId());
        assertEquals(1_235_814_400L, c.parameterCount(), "Llama 3.2 1B's published parameter count");
    }

    @Test
    void llama3ScalingKeepsHighFrequenciesAndDividesLowOnes() {
        RopeScaling s = RopeScaling.llama3(8, 1, 4, 8192);
        double high = 2 * Math.PI / 100;       // wavelength 100 < 8192/4: unchanged
        double low = 2 * Math.PI / 100_000;    // wavelength 100000 > 8192/1: divided by the factor
        double mid = 2 * Math.PI / 4096;       // in between: smooth = (8192/4096 - 1) / (4 - 1) = 1/3
        assertEquals(high, s.scale(high), 0);
        assertEquals(low / 8, s.scale(low), 1e-15);
        assertEquals((2.0 / 3) * mid / 8 + (1.0 / 3) * mid, s.scale(mid), 1e-15);
    }

    @Test
    void qwen2HasQkvBiasesWithoutAFlag() throws IOException {
        ModelConfig c = read("""
                {"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                 "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768,
                 "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 32768, "use_sliding_window": false,
                 "tie_word_embeddings": true, "hidden_act": "silu", "bos_token_id": 151643, "eos_token_id": 151643}""");
        assertTrue(c.qkvBias());
        assertFalse(c.qkNorm());
        assertEquals(64, c.headDim(), "hidden / heads when head_dim is absent");
        assertEquals(0, c.slidingWindow(), "use_sliding_window false");
        assertEquals(494_032_768L, c.parameterCount(), "Qwen2.5-0.5B's parameter count");
    }

    @Test
    void qwen3HasQkNormAndExplicitHeadDim() throws IOException {
        ModelConfig c = read("""
                {"model_type": "qwen3", "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28,
                 "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936,
                 "rms_norm_eps": 1e-06, "rope_theta": 1000000, "tie_word_embeddings": true, "attention_bias": false}""");
        assertTrue(c.qkNorm());
        assertFalse(c.qkvBias());
        assertEquals(2048, c.qDim(), "head_dim × heads need not equal hidden_size");
        assertEquals(2048, c.maxPositions(), "a default when max_position_embeddings is absent");
    }

    @Test
    void mistralSlidingWindowAndNullKvHeads() throws IOException {
        ModelConfig c = read("""
                {"model_type": "mistral", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
                 "num_attention_heads": 32, "num_key_value_heads": null, "vocab_size": 32000, "sliding_window": 4096,
                 "rope_theta": 10000.0, "rms_norm_eps": 1e-05}""");
        assertEquals(4096, c.slidingWindow());
        assertEquals(32, c.numKvHeads(), "null means no GQA");
        assertNull(c.bosTokenId());
    }

    @Test
    void mistakesNameTheFileAndTheProblem() throws IOException {
        assertRejected("{\"model_type\": \"gpt2\"}", "model_type 'gpt2' is not supported; supported: llama, mistral, qwen2, qwen3");
        assertRejected("{\"hidden_size\": 8}", "no model_type");
        assertRejected("{\"model_type\": \"llama\", \"hidden_size\": 64}", "missing num_attention_heads");
        assertRejected(base("\"num_attention_heads\": 6, \"num_key_value_heads\": 4"), "not a multiple of num_key_value_heads");
        assertRejected(base("\"num_attention_heads\": 4, \"head_dim\": -2"), "head_dim must be a positive integer");
        assertRejected(base("\"num_attention_heads\": 4, \"hidden_act\": \"gelu\""), "hidden_act 'gelu'");
        assertRejected(base("\"num_attention_heads\": 4, \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4}"), "rope_scaling type 'yarn'");
        assertRejected(base("\"num_attention_heads\": 4, \"rms_norm_eps\": \"small\""), "rms_norm_eps is not a number");
        assertRejected("{\"model_type\": \"llama\",", "invalid JSON");
        assertRejected("[]", "expected a JSON object");
    }

    @Test
    void ropeScalingThatIsNotAnObjectOrLacksItsFactorIsRefused() throws IOException {
        assertRejected(base("\"num_attention_heads\": 4, \"rope_scaling\": \"yes\""), "rope_scaling must be an object");
        assertRejected(base("\"num_attention_heads\": 4, \"rope_scaling\": true"), "rope_scaling must be an object");
        assertRejected(base("\"num_attention_heads\": 4, \"rope_scaling\": {\"rope_type\": \"linear\"}"),
                "rope_scaling.factor must be a number");
        assertEquals(RopeScaling.Type.LINEAR, read(base("\"num_attention_heads\": 4, \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2}"))
                .ropeScaling().type());
    }

    private static String base(String extra) {
        return "{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2,"
                + " \"vocab_size\": 100, " + extra + "}";
    }

    private void assertRejected(String json, String fragment) throws IOException {
        Path p = dir.resolve("bad" + System.nanoTime() + ".json");
        Files.writeString(p, json);
        QforgeException e = assertThrows(QforgeException.class, () -> HfConfigFile.read(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should contain '" + fragment + "'");
    }
}
