package dev.qforge.model;

import dev.qforge.kernel.GroupedQueryKernels;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.VectorMath;

/**
 * Causal grouped-query attention of a batch of new tokens over the KV cache: query head h reads KV head
 * h / (numHeads / numKvHeads). The cache holds each KV head transposed ([dim][position]), so that both
 * the scores (Σ_d q[d]·K[d][j]) and the output (Σ_j p[j]·V[d][j]) are vector operations along positions:
 * they stay vectorized for any head size, including the 8-wide heads of small models. Each (token, KV head)
 * pair is independent, so they are spread over threads.
 */
final class Attention {
    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[0]);

    private Attention() {
    }

    /** Writes the keys and values of n new tokens (rows of s.k and s.v) into the transposed cache. */
    static void store(ModelConfig c, InferenceState s, int layer, int n) {
        int hd = c.headDim();
        int kvDim = c.kvDim();
        int cap = s.capacity;
        float[] keys = s.keys[layer];
        float[] values = s.values[layer];
        for (int t = 0; t < n; t++) {
            int pos = s.length + t;
            for (int i = 0; i < kvDim; i++) {
                // index of (head i / hd, dim i % hd, pos) = (i / hd * hd + i % hd) * cap + pos = i * cap + pos
                keys[i * cap + pos] = s.k[t * kvDim + i];
                values[i * cap + pos] = s.v[t * kvDim + i];
            }
        }
    }

    /**
     * Fills s.attention[t*qDim + h*headDim ..] for the n tokens just stored in the cache of {@code layer}. One task
     * per (token, KV head): the query heads that share that KV head are scored and summed together, so the keys
     * and values are read once per KV head ({@link GroupedQueryKernels}).
     */
    static void run(ModelConfig c, InferenceState s, int layer, int n) {
        int heads = c.numHeads();
        int kvHeads = c.numKvHeads();
        int groupSize = heads / kvHeads;
        int hd = c.headDim();
        int qDim = c.qDim();
        int cap = s.capacity;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] keys = s.keys[layer];
        float[] values = s.values[layer];
        int start = s.length;
        int window = c.slidingWindow();
        Parallel.forRange(n * kvHeads, job -> {
            int t = job / kvHeads;
            int kv = job % kvHeads;
            int pos = start + t;
            int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
            int span = pos - first + 1;
            float[] p = scratch(GroupedQueryKernels.HEADS_PER_PASS * span);
            int headBase = kv * hd * cap + first;
            for (int g = 0; g < groupSize; g += GroupedQueryKernels.HEADS_PER_PASS) {
                int count = Math.min(GroupedQueryKernels.HEADS_PER_PASS, groupSize - g);
                int qOff = t * qDim + (kv * groupSize + g) * hd;
                GroupedQueryKernels.scores(s.q, qOff, count, hd, scale, keys, headBase, cap, span, p, 0);
                for (int h = 0; h < count; h++) {
                    VectorMath.softmax(p, h * span, span);
                }
                GroupedQueryKernels.weightedValues(p, 0, count, span, values, headBase, cap, hd, s.attention, qOff);
            }
        });
    }

    private static float[] scratch(int n) {
        float[] a = SCORES.get();
        if (a.length < n) {
            a = new float[Math.max(n, a.length * 2)];
            SCORES.set(a);
        }
        return a;
    }
}
