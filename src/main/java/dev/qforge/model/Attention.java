package dev.qforge.model;

import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.VectorMath;

/**
 * Causal grouped-query attention of a batch of new tokens over the KV cache: query head h reads KV head
 * h / (numHeads / numKvHeads). The cache holds each KV head transposed ([dim][position]), so that both
 * the scores (Σ_d q[d]·K[d][j]) and the output (Σ_j p[j]·V[d][j]) are vector operations along positions:
 * they stay vectorized for any head size, including the 8-wide heads of small models. Each (token, head)
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

    /** Fills s.attention[t*qDim + h*headDim ..] for the n tokens just stored in the cache of {@code layer}. */
    static void run(ModelConfig c, InferenceState s, int layer, int n) {
        int heads = c.numHeads();
        int groupSize = heads / c.numKvHeads();
        int hd = c.headDim();
        int qDim = c.qDim();
        int cap = s.capacity;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] keys = s.keys[layer];
        float[] values = s.values[layer];
        int start = s.length;
        int window = c.slidingWindow();
        Parallel.forRange(n * heads, job -> {
            int t = job / heads;
            int h = job % heads;
            int pos = start + t;
            int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
            int span = pos - first + 1;
            float[] scores = scratch(span);
            java.util.Arrays.fill(scores, 0, span, 0f);
            int qOff = t * qDim + h * hd;
            int headBase = (h / groupSize) * hd * cap + first;
            for (int d = 0; d < hd; d++) {
                VectorMath.axpy(s.q[qOff + d] * scale, keys, headBase + d * cap, scores, 0, span);
            }
            VectorMath.softmax(scores, 0, span);
            for (int d = 0; d < hd; d++) {
                s.attention[qOff + d] = VectorMath.dot(scores, 0, values, headBase + d * cap, span);
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
