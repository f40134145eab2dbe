package dev.qforge.model;

import dev.qforge.kernel.GroupedQueryKernels;
import dev.qforge.kernel.Parallel;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Attention over the KV cache against its definition, computed here from every key and value the test handed it:
 * single steps and batches, several KV heads and query heads per KV head (a pass of four and a remainder), with and
 * without a sliding window whose first position falls anywhere in a key block.
 */
class AttentionTest {
    private static final int HEAD_DIM = 24;
    private static final int KV_HEADS = 2;
    private static final int HEADS = 10;

    private static ModelConfig config(int window) {
        return new ModelConfig(ModelFamily.MISTRAL, 32, 64, 1, HEADS, KV_HEADS, HEAD_DIM, 100, 4096, 1e-5f, 10000.0,
                RopeScaling.NONE, false, false, false, window, null, null);
    }

    @Test
    void stepsAndBatchesMatchTheDefinitionWithAndWithoutASlidingWindow() {
        int before = Parallel.threads();
        try {
            for (int threads : new int[] {1, 2, 3}) {
                Parallel.setThreads(threads);
                for (int window : new int[] {0, 21, 16, 5}) {
                    check(config(window), threads);
                }
            }
        } finally {
            Parallel.setThreads(before);
        }
    }

    private static void check(ModelConfig c, int threads) {
        int capacity = 3 * GroupedQueryKernels.KEY_BLOCK + 7;
        InferenceState s = new InferenceState(c, capacity);
        Random r = new Random(11 + c.slidingWindow());
        float[][] keys = new float[capacity][];
        float[][] values = new float[capacity][];
        float[][] queries = new float[capacity][];
        // steps of 1, 3, 1, 2, … tokens until the cache is full
        int[] batches = {1, 3, 1, 2, 1, 1, 5};
        for (int step = 0; s.length < capacity; step++) {
            int n = Math.min(batches[step % batches.length], capacity - s.length);
            s.ensureBatch(c, n);
            for (int t = 0; t < n; t++) {
                int pos = s.length + t;
                queries[pos] = fill(r, s.q, t * c.qDim(), c.qDim());
                keys[pos] = fill(r, s.k, t * c.kvDim(), c.kvDim());
                values[pos] = fill(r, s.v, t * c.kvDim(), c.kvDim());
            }
            Attention.attend(c, s, 0, n);
            for (int t = 0; t < n; t++) {
                int pos = s.length + t;
                for (int h = 0; h < HEADS; h++) {
                    double[] expected = expected(c, queries[pos], keys, values, pos, h);
                    for (int d = 0; d < HEAD_DIM; d++) {
                        assertEquals(expected[d], s.attention[t * c.qDim() + h * HEAD_DIM + d], 1e-4,
                                "threads " + threads + " window " + c.slidingWindow() + " position " + pos + " head "
                                        + h + " dim " + d);
                    }
                }
            }
            s.length += n;
        }
    }

    private static float[] fill(Random r, float[] dst, int off, int n) {
        float[] copy = new float[n];
        for (int i = 0; i < n; i++) {
            copy[i] = (float) r.nextGaussian();
            dst[off + i] = copy[i];
        }
        return copy;
    }

    /** Softmax-weighted values of head h at pos, over the positions its window sees. */
    private static double[] expected(ModelConfig c, float[] q, float[][] keys, float[][] values, int pos, int h) {
        int kv = h / (HEADS / KV_HEADS);
        int first = c.slidingWindow() > 0 ? Math.max(0, pos - c.slidingWindow() + 1) : 0;
        double[] scores = new double[pos - first + 1];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = first; j <= pos; j++) {
            double dot = 0;
            for (int d = 0; d < HEAD_DIM; d++) {
                dot += (double) q[h * HEAD_DIM + d] * keys[j][kv * HEAD_DIM + d];
            }
            scores[j - first] = dot / Math.sqrt(HEAD_DIM);
            max = Math.max(max, scores[j - first]);
        }
        double sum = 0;
        for (int i = 0; i < scores.length; i++) {
            scores[i] = Math.exp(scores[i] - max);
            sum += scores[i];
        }
        double[] out = new double[HEAD_DIM];
        for (int j = first; j <= pos; j++) {
            for (int d = 0; d < HEAD_DIM; d++) {
                out[d] += scores[j - first] / sum * values[j][kv * HEAD_DIM + d];
            }
        }
        return out;
    }
}
