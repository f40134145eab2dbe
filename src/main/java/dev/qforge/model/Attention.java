package dev.qforge.model;

import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.VectorMath;

import java.util.Arrays;

/**
 * Causal grouped-query attention of a batch of new tokens over the KV cache: query head h reads KV head
 * h / (numHeads / numKvHeads). Each (token, head) pair is independent, so they are spread over threads.
 */
final class Attention {
    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[0]);

    private Attention() {
    }

    /** Fills s.attention[t*qDim + h*headDim ..] for the n tokens just written to the cache of {@code layer}. */
    static void run(ModelConfig c, InferenceState s, int layer, int n) {
        int heads = c.numHeads();
        int groupSize = heads / c.numKvHeads();
        int hd = c.headDim();
        int qDim = c.qDim();
        int kvDim = c.kvDim();
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
            int qOff = t * qDim + h * hd;
            int kvOff = (h / groupSize) * hd;
            for (int j = 0; j < span; j++) {
                scores[j] = VectorMath.dot(s.q, qOff, keys, (first + j) * kvDim + kvOff, hd) * scale;
            }
            VectorMath.softmax(scores, 0, span);
            Arrays.fill(s.attention, qOff, qOff + hd, 0f);
            for (int j = 0; j < span; j++) {
                VectorMath.axpy(scores[j], values, (first + j) * kvDim + kvOff, s.attention, qOff, hd);
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
