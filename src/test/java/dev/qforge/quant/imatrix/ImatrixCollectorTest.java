package dev.qforge.quant.imatrix;

import dev.qforge.format.Imatrix;
import dev.qforge.model.ActivationObserver;
import dev.qforge.model.Decoder;
import dev.qforge.model.ModelConfig;
import dev.qforge.model.SyntheticModel;
import dev.qforge.model.SyntheticShape;
import dev.qforge.runtime.QModel;
import dev.qforge.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The collector on a synthetic model: its sums against direct computations over one chunk. */
class ImatrixCollectorTest {
    static final int CTX = 64;

    @TempDir
    Path tmp;

    private Path synth(SyntheticShape shape) {
        Path dir = tmp.resolve(shape.id());
        SyntheticModel.write(shape.config(), DType.F32, 7, Long.MAX_VALUE, dir, null);
        return dir;
    }

    private static int[] randomTokens(int n, int vocab, long seed) {
        Random r = new Random(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = 3 + r.nextInt(vocab - 3);
        }
        return t;
    }

    /** Every linear input of a forward pass, copied. */
    static final class Recorder implements ActivationObserver {
        final Map<String, List<float[]>> inputs = new LinkedHashMap<>();
        final Map<String, Integer> cols = new LinkedHashMap<>();

        @Override
        public void linearInput(String weight, float[] input, int rows, int c) {
            inputs.computeIfAbsent(weight, k -> new ArrayList<>()).add(java.util.Arrays.copyOf(input, rows * c));
            cols.put(weight, c);
        }
    }

    @Test
    void sumsEqualDirectComputationForOneChunk() {
        try (QModel m = QModel.load(synth(SyntheticShape.TINY_LLAMA))) {
            ModelConfig c = m.config();
            Decoder decoder = m.decoder();
            int[] tokens = randomTokens(CTX * 2 + 5, c.vocabSize(), 1);
            ImatrixRun run = new ImatrixRun(decoder, CTX, 1, false);
            assertEquals(2, run.chunksOf(tokens.length));

            ImatrixCollector collector = new ImatrixCollector();
            run.runChunk(tokens, 1, decoder.newState(CTX), collector);
            Recorder recorder = new Recorder();
            run.runChunk(tokens, 1, decoder.newState(CTX), recorder);

            // Names: the 7 matrices of each layer, in GGUF naming; no LM head.
            Set<String> expected = new HashSet<>();
            for (int l = 0; l < c.numLayers(); l++) {
                for (String t : List.of("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")) {
                    expected.add("blk." + l + "." + t + ".weight");
                }
            }
            assertEquals(expected, new HashSet<>(collector.names()));

            // Every entry: the sums of squares and sums of the recorded inputs.
            for (Map.Entry<String, List<float[]>> e : recorder.inputs.entrySet()) {
                String gguf = dev.qforge.format.GgufTensorNames.toGguf(e.getKey());
                if (!gguf.startsWith("blk.")) {
                    assertNull(collector.sumSquares(gguf), gguf);
                    continue;
                }
                int cols = recorder.cols.get(e.getKey());
                double[] s2 = new double[cols];
                double[] s = new double[cols];
                long rows = 0;
                for (float[] in : e.getValue()) {
                    for (int i = 0; i < in.length; i++) {
                        s2[i % cols] += (double) in[i] * in[i];
                        s[i % cols] += in[i];
                    }
                    rows += in.length / cols;
                }
                assertEquals(CTX, rows, gguf);
                assertArrayEquals(s2, collector.sumSquares(gguf), 1e-9, gguf);
                assertArrayEquals(s, collector.sums(gguf), 1e-9, gguf);
                assertEquals(CTX, collector.rows(gguf), gguf);
                assertEquals(1, collector.calls(gguf), gguf);
            }

            // Independently: layer 0's q/k/v input is RMSNorm(embedding) of the chunk, BOS first.
            int d = c.hiddenSize();
            int[] chunk = run.chunk(tokens, 1);
            assertEquals(1, chunk[0]);
            assertEquals(tokens[CTX + 1], chunk[1]);
            double[] direct = new double[d];
            float[] row = new float[d];
            float[] normed = new float[d];
            float[] norm = decoder.weights().layers()[0].attentionNorm();
            for (int token : chunk) {
                decoder.weights().embedding().copyRowTo(token, row, 0);
                double ss = 0;
                for (float v : row) {
                    ss += (double) v * v;
                }
                double inv = 1 / Math.sqrt(ss / d + c.rmsNormEps());
                for (int j = 0; j < d; j++) {
                    double x = row[j] * inv * norm[j];
                    direct[j] += x * x;
                }
            }
            for (String t : List.of("attn_q", "attn_k", "attn_v")) {
                double[] got = collector.sumSquares("blk.0." + t + ".weight");
                for (int j = 0; j < d; j++) {
                    assertEquals(direct[j], got[j], 1e-5 * direct[j], t + "[" + j + "]");
                }
            }

            // As an Imatrix: counts in tokens, chunk size, means.
            Imatrix im = collector.toImatrix(List.of("x.txt"), 1, CTX);
            assertEquals(CTX, im.chunkSize());
            Imatrix.Entry q = im.entry("blk.0.attn_q.weight");
            assertEquals(CTX, q.counts()[0]);
            assertEquals((float) (direct[3] / CTX), q.mean()[3], 1e-5f * q.mean()[3]);
            assertArrayEquals(q.mean(), im.importance("blk.0.attn_q.weight", d));
        }
    }

    @Test
    void runOverChunksAddsUpAndHandlesTheLmHead() {
        try (QModel m = QModel.load(synth(SyntheticShape.TINY_LLAMA))) {
            Decoder decoder = m.decoder();
            int[] tokens = randomTokens(CTX * 3 + 10, m.config().vocabSize(), 2);
            ImatrixRun run = new ImatrixRun(decoder, CTX, 1, false);
            Imatrix all = run.run(tokens, 0, List.of("t.txt"), null);
            assertEquals(3, all.chunkCount());
            ImatrixCollector one = new ImatrixCollector();
            for (int ch = 0; ch < 3; ch++) {
                run.runChunk(tokens, ch, decoder.newState(CTX), one);
            }
            for (String name : all.names()) {
                assertEquals(3L * CTX, all.entry(name).counts()[0], name);
                assertEquals(3, one.calls(name), name);
                float[] s2 = all.entry(name).sumSquares();
                double[] ref = one.sumSquares(name);
                for (int j = 0; j < s2.length; j++) {
                    // Not bit for bit: the decoder's threaded kernels may round differently from run to run.
                    assertEquals(ref[j], s2[j], 1e-6 * ref[j], name);
                }
            }
            assertFalse(all.contains("output.weight"));
            assertEquals(2, run.run(tokens, 2, List.of(), null).chunkCount());
            // The observer is removed afterwards.
            ImatrixCollector after = new ImatrixCollector();
            decoder.forward(decoder.newState(CTX), tokens, 0, CTX, 1);
            assertTrue(after.names().isEmpty());

            Imatrix withOutput = new ImatrixRun(decoder, CTX, 1, true).run(tokens, 1, List.of(), null);
            assertEquals(CTX, withOutput.entry("output.weight").counts()[0]);
            assertEquals(m.config().hiddenSize(), withOutput.entry("output.weight").columns());
        }
        try (QModel tied = QModel.load(synth(SyntheticShape.TINY_LLAMA_TIED))) {
            int[] tokens = randomTokens(CTX, tied.config().vocabSize(), 3);
            Imatrix im = new ImatrixRun(tied.decoder(), CTX, 1, true).run(tokens, 0, List.of(), null);
            assertFalse(im.contains("output.weight")); // llama.cpp never collects token_embd
            assertFalse(im.contains("token_embd.weight"));
        }
    }

    @Test
    void smallBatchesAreIgnoredAsInLlamaCpp() {
        ImatrixCollector c = new ImatrixCollector();
        c.linearInput("model.layers.0.self_attn.q_proj.weight", new float[15 * 4], 15, 4);
        assertTrue(c.names().isEmpty());
        float[] x = new float[16 * 4];
        for (int i = 0; i < x.length; i++) {
            x[i] = i % 4 + 1;
        }
        c.linearInput("model.layers.0.self_attn.q_proj.weight", x, 16, 4);
        c.linearInput("lm_head.weight", x, 16, 4);
        assertEquals(List.of("blk.0.attn_q.weight"), c.names());
        assertArrayEquals(new double[]{16, 64, 144, 256}, c.sumSquares("blk.0.attn_q.weight"));
        assertThrows(IllegalArgumentException.class, () -> new ImatrixRun(null, 15, null, false));
    }
}
