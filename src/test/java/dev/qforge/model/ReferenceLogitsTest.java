package dev.qforge.model;

import dev.qforge.SharedData;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.format.SafetensorsFile;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The FP32 forward pass against llama.cpp's logits for the reference prompts (README: max |Δ| ≤ 1e-3, same argmax). */
class ReferenceLogitsTest {
    @ParameterizedTest
    @CsvSource({
            "stories260K, once", "stories260K, stories", "stories260K, wiki",
            "qforge-tiny-llama, once", "qforge-tiny-llama, stories", "qforge-tiny-llama, wiki"})
    void logitsMatchLlamaCpp(String model, String prompt) {
        Path dir = SharedData.require("models/" + model + "/hf");
        Path ref = SharedData.require("reference/" + model + "/logits-F32-" + prompt + ".safetensors");
        ModelConfig config = HfConfigFile.read(dir.resolve("config.json"));
        try (var checkpoint = SafetensorsCheckpoint.open(dir); var reference = SafetensorsFile.open(ref)) {
            int[] tokens = reference.tensor("tokens").toIntArray();
            float[] expected = reference.tensor("logits").toFloatArray();
            Decoder decoder = new Decoder(config, DecoderWeights.load(config, checkpoint));
            float[] batched = decoder.forward(decoder.newState(tokens.length), tokens, 0, tokens.length, tokens.length);
            assertClose(expected, batched, config.vocabSize(), "batched prefill");

            InferenceState state = decoder.newState(tokens.length);
            float[] stepwise = new float[tokens.length * config.vocabSize()];
            for (int t = 0; t < tokens.length; t++) {
                float[] row = decoder.forward(state, tokens, t, 1, 1);
                System.arraycopy(row, 0, stepwise, t * config.vocabSize(), row.length);
            }
            assertClose(expected, stepwise, config.vocabSize(), "token-by-token decode");
        }
    }

    static void assertClose(float[] expected, float[] actual, int vocab, String what) {
        assertEquals(expected.length, actual.length, what + ": logit count");
        double maxDiff = 0;
        for (int i = 0; i < expected.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
        }
        assertTrue(maxDiff <= 1e-3, what + ": max |Δlogit| = " + maxDiff);
        for (int row = 0; row < expected.length / vocab; row++) {
            assertEquals(argmax(expected, row * vocab, vocab), argmax(actual, row * vocab, vocab), what + ": argmax at position " + row);
        }
    }

    static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[off + i] > a[off + best]) {
                best = i;
            }
        }
        return best;
    }
}
