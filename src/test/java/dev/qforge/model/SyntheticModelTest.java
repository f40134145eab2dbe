package dev.qforge.model;

import dev.qforge.QforgeException;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Checks of the decoder that need no reference data: every family, written as real files by the synthesizer. */
class SyntheticModelTest {
    @TempDir
    Path tmp;

    private Path synth(SyntheticShape shape, DType dtype, long maxShard) {
        Path out = tmp.resolve(shape.id() + "-" + dtype + "-" + maxShard);
        SyntheticModel.write(shape.config(), dtype, 7, maxShard, out, null);
        return out;
    }

    @ParameterizedTest
    @EnumSource(value = SyntheticShape.class, names = {"TINY_LLAMA", "TINY_LLAMA_TIED", "TINY_MISTRAL", "TINY_QWEN2", "TINY_QWEN3"})
    void kvCacheDecodeEqualsFullRecomputeAndBatchedPrefill(SyntheticShape shape) {
        Path dir = synth(shape, DType.F32, Long.MAX_VALUE);
        ModelConfig config = HfConfigFile.read(dir.resolve("config.json"));
        assertEquals(shape.config(), config, "config.json round trip");
        try (var checkpoint = SafetensorsCheckpoint.open(dir)) {
            Decoder decoder = new Decoder(config, DecoderWeights.load(config, checkpoint));
            int n = 40; // longer than tiny-mistral's sliding window of 24
            int[] tokens = new SplittableRandom(1).ints(n, 0, config.vocabSize()).toArray();
            int vocab = config.vocabSize();
            float[] batched = decoder.forward(decoder.newState(n), tokens, 0, n, n);

            InferenceState incremental = decoder.newState(n);
            decoder.forward(incremental, tokens, 0, 10, 0);              // a prefill of 10 tokens,
            float[] chunk = decoder.forward(incremental, tokens, 10, 20, 20); // then a batch of 20,
            for (int t = 30; t < n; t++) {                                     // then single steps
                float[] step = decoder.forward(incremental, tokens, t, 1, 1);
                assertClose(batched, (t) * vocab, step, 0, vocab, "decode step at " + t);
            }
            assertClose(batched, 10 * vocab, chunk, 0, 20 * vocab, "second batch");

            // Full recompute from scratch for the last position.
            float[] last = decoder.forward(decoder.newState(n), tokens, 0, n, 1);
            assertClose(batched, (n - 1) * vocab, last, 0, vocab, "full recompute");
        }
    }

    /**
     * Decode steps give the same bits on any number of threads: attention takes a task per KV head (storing its own
     * head) when there are at least as many KV heads as threads, else a task per pass of query heads, and both give
     * each head the same sums (tiny-llama: 2 KV heads, tiny-mistral: 1, past its sliding window).
     */
    @ParameterizedTest
    @EnumSource(value = SyntheticShape.class, names = {"TINY_LLAMA", "TINY_MISTRAL"})
    void decodeStepsAreTheSameOnAnyNumberOfThreads(SyntheticShape shape) {
        Path dir = synth(shape, DType.F32, Long.MAX_VALUE);
        ModelConfig config = HfConfigFile.read(dir.resolve("config.json"));
        int before = dev.qforge.kernel.Parallel.threads();
        try (var checkpoint = SafetensorsCheckpoint.open(dir)) {
            Decoder decoder = new Decoder(config, DecoderWeights.load(config, checkpoint));
            int n = 30;
            int[] tokens = new SplittableRandom(2).ints(n, 0, config.vocabSize()).toArray();
            float[][] reference = null;
            for (int threads : new int[] {1, 2, 3}) {
                dev.qforge.kernel.Parallel.setThreads(threads);
                InferenceState state = decoder.newState(n);
                float[][] logits = new float[n][];
                for (int t = 0; t < n; t++) {
                    logits[t] = decoder.forward(state, tokens, t, 1, 1);
                }
                if (reference == null) {
                    reference = logits;
                } else {
                    for (int t = 0; t < n; t++) {
                        assertArrayEquals(reference[t], logits[t], threads + " threads, step " + t);
                    }
                }
            }
        } finally {
            dev.qforge.kernel.Parallel.setThreads(before);
        }
    }

    @Test
    void shardedCheckpointLoadsLikeSingleFile() throws IOException {
        Path single = synth(SyntheticShape.TINY_QWEN2, DType.BF16, Long.MAX_VALUE);
        Path sharded = synth(SyntheticShape.TINY_QWEN2, DType.BF16, 40_000);
        assertTrue(Files.exists(sharded.resolve(SafetensorsCheckpoint.INDEX_FILE)));
        try (var a = SafetensorsCheckpoint.open(single); var b = SafetensorsCheckpoint.open(sharded)) {
            assertTrue(b.files().size() > 1, "several shards");
            assertEquals(a.names().size(), b.names().size());
            for (String name : a.names()) {
                assertArrayEquals(a.tensor(name).toFloatArray(), b.tensor(name).toFloatArray(), name);
            }
        }
        Files.delete(sharded.resolve("model-00002-of-" + String.format("%05d", countShards(sharded)) + ".safetensors"));
        QforgeException e = assertThrows(QforgeException.class, () -> SafetensorsCheckpoint.open(sharded));
        assertTrue(e.getMessage().contains("is missing"), e.getMessage());
    }

    @Test
    void sameSeedGivesByteIdenticalFiles() throws IOException {
        Path a = synth(SyntheticShape.TINY_LLAMA, DType.BF16, Long.MAX_VALUE);
        Path b = tmp.resolve("again");
        SyntheticModel.write(SyntheticShape.TINY_LLAMA.config(), DType.BF16, 7, Long.MAX_VALUE, b, null);
        for (String f : new String[]{"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"}) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
        }
    }

    @Test
    void refusesToOverwriteAndLeavesNoPartialDirectory() throws IOException {
        Path a = synth(SyntheticShape.TINY_LLAMA, DType.F32, Long.MAX_VALUE);
        assertThrows(QforgeException.class, () -> SyntheticModel.write(SyntheticShape.TINY_LLAMA.config(), DType.F32, 7, Long.MAX_VALUE, a, null));
        try (var list = Files.list(tmp)) {
            assertTrue(list.noneMatch(p -> p.getFileName().toString().contains(".partial")));
        }
    }

    @Test
    void truncatedTensorFailsAtLoadNamingTheTensor() throws IOException {
        Path dir = synth(SyntheticShape.TINY_LLAMA, DType.F32, Long.MAX_VALUE);
        String json = Files.readString(dir.resolve("config.json")).replace("\"intermediate_size\" : 160", "\"intermediate_size\" : 128");
        Files.writeString(dir.resolve("config.json"), json);
        ModelConfig config = HfConfigFile.read(dir.resolve("config.json"));
        try (var checkpoint = SafetensorsCheckpoint.open(dir)) {
            QforgeException e = assertThrows(QforgeException.class, () -> DecoderWeights.load(config, checkpoint));
            assertTrue(e.getMessage().contains("mlp.gate_proj.weight") && e.getMessage().contains("[128, 64]"), e.getMessage());
        }
    }

    private static long countShards(Path dir) throws IOException {
        try (var list = Files.list(dir)) {
            return list.filter(p -> p.getFileName().toString().startsWith("model-")).count();
        }
    }

    static void assertClose(float[] expected, int eOff, float[] actual, int aOff, int n, String what) {
        double max = 0;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, Math.abs(expected[eOff + i] - actual[aOff + i]));
        }
        assertTrue(max < 1e-4, what + ": max |Δ| = " + max);
    }

    @Test
    void aConfigWithFewerLayersThanTheCheckpointIsRefused() throws IOException {
        Path dir = synth(SyntheticShape.TINY_LLAMA, DType.F32, Long.MAX_VALUE);
        Path config = dir.resolve("config.json");
        int layers = SyntheticShape.TINY_LLAMA.config().numLayers();
        String json = Files.readString(config);
        Files.writeString(config, json.replaceFirst("\"num_hidden_layers\"\\s*:\\s*" + layers, "\"num_hidden_layers\": " + (layers - 1)));
        QforgeException e = assertThrows(QforgeException.class, () -> dev.qforge.runtime.QModel.load(dir).close());
        assertTrue(e.getMessage().contains("holds tensors of layer " + (layers - 1)) && e.getMessage().contains("num_hidden_layers is " + (layers - 1)),
                e.getMessage());
    }
}
