package dev.qforge.kernel;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The two products of grouped-query attention over a KV head stored transposed ([dim][position], rows
 * {@code stride} floats apart): scores of several query heads against the keys, and their probability-weighted
 * sums of the values. The query heads that share a KV head are taken together, up to four at a time, so each
 * key and value vector is loaded once for all of them: a decode step reads the whole KV cache, and reading it
 * once per query head instead of once per KV head made attention a tenth of a 1B model's step at a few hundred
 * positions. Scores are accumulated in registers over the head dimension, a vector of 16 positions at a time,
 * instead of an axpy per dimension that reads and writes the score row once per dimension; the last, partial vector
 * of positions is a masked one (a scalar tail made the first positions of a decode, spans below 16, the slowest).
 */
public final class GroupedQueryKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Query heads taken together: four accumulators, four broadcast or score loads per key or value vector. */
    public static final int HEADS_PER_PASS = 4;
    /** Per thread: the lanes of a pass's accumulators, summed from there ({@link #sum}). */
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[HEADS_PER_PASS * L]);

    private GroupedQueryKernels() {
    }

    /**
     * scores[so + g·span + j] = scale·Σ_d q[qo + g·headDim + d]·kv[base + d·stride + j], for the {@code heads}
     * (1 to 4) query heads g whose rows start at qo, and positions j below span.
     */
    public static void scores(float[] q, int qo, int heads, int headDim, float scale, float[] kv, int base, int stride,
                              int span, float[] scores, int so) {
        if (heads == HEADS_PER_PASS) {
            scores4(q, qo, headDim, scale, kv, base, stride, span, scores, so);
            return;
        }
        for (int g = 0; g < heads; g++) {
            scores1(q, qo + g * headDim, headDim, scale, kv, base, stride, span, scores, so + g * span);
        }
    }

    private static void scores4(float[] q, int qo, int hd, float scale, float[] kv, int base, int stride, int span,
                                float[] scores, int so) {
        for (int j = 0; j < span; j += L) {
            VectorMask<Float> m = S.indexInRange(j, span);
            FloatVector a0 = FloatVector.zero(S);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (int d = 0; d < hd; d++) {
                FloatVector k = FloatVector.fromArray(S, kv, base + d * stride + j, m);
                a0 = k.fma(FloatVector.broadcast(S, q[qo + d]), a0);
                a1 = k.fma(FloatVector.broadcast(S, q[qo + hd + d]), a1);
                a2 = k.fma(FloatVector.broadcast(S, q[qo + 2 * hd + d]), a2);
                a3 = k.fma(FloatVector.broadcast(S, q[qo + 3 * hd + d]), a3);
            }
            a0.mul(scale).intoArray(scores, so + j, m);
            a1.mul(scale).intoArray(scores, so + span + j, m);
            a2.mul(scale).intoArray(scores, so + 2 * span + j, m);
            a3.mul(scale).intoArray(scores, so + 3 * span + j, m);
        }
    }

    private static void scores1(float[] q, int qo, int hd, float scale, float[] kv, int base, int stride, int span,
                                float[] scores, int so) {
        for (int j = 0; j < span; j += L) {
            VectorMask<Float> m = S.indexInRange(j, span);
            FloatVector a = FloatVector.zero(S);
            for (int d = 0; d < hd; d++) {
                a = FloatVector.fromArray(S, kv, base + d * stride + j, m).fma(FloatVector.broadcast(S, q[qo + d]), a);
            }
            a.mul(scale).intoArray(scores, so + j, m);
        }
    }

    /**
     * out[oo + g·headDim + d] = Σ_j p[po + g·span + j]·kv[base + d·stride + j] for the {@code heads} (1 to 4)
     * probability rows g and dimensions d below headDim.
     */
    public static void weightedValues(float[] p, int po, int heads, int span, float[] kv, int base, int stride,
                                      int headDim, float[] out, int oo) {
        for (int g = 0; g + HEADS_PER_PASS <= heads; g += HEADS_PER_PASS) {
            values4(p, po + g * span, span, kv, base, stride, headDim, out, oo + g * headDim);
        }
        for (int g = heads - heads % HEADS_PER_PASS; g < heads; g++) {
            values1(p, po + g * span, span, kv, base, stride, headDim, out, oo + g * headDim);
        }
    }

    private static void values4(float[] p, int po, int span, float[] kv, int base, int stride, int hd, float[] out,
                                int oo) {
        float[] lanes = LANES.get();
        for (int d = 0; d < hd; d++) {
            int row = base + d * stride;
            FloatVector a0 = FloatVector.zero(S);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (int j = 0; j < span; j += L) {
                VectorMask<Float> m = S.indexInRange(j, span);
                FloatVector v = FloatVector.fromArray(S, kv, row + j, m);
                a0 = v.fma(FloatVector.fromArray(S, p, po + j, m), a0);
                a1 = v.fma(FloatVector.fromArray(S, p, po + span + j, m), a1);
                a2 = v.fma(FloatVector.fromArray(S, p, po + 2 * span + j, m), a2);
                a3 = v.fma(FloatVector.fromArray(S, p, po + 3 * span + j, m), a3);
            }
            // through an array, not four calls of Lanes.sum: C2 stopped inlining at the fourth, and the vector it was
            // handed was boxed on the heap at every dimension (~1 MB per decode step of a 1B model, the step's largest
            // allocation: seen in allocation profiles)
            a0.intoArray(lanes, 0);
            a1.intoArray(lanes, L);
            a2.intoArray(lanes, 2 * L);
            a3.intoArray(lanes, 3 * L);
            out[oo + d] = sum(lanes, 0);
            out[oo + hd + d] = sum(lanes, L);
            out[oo + 2 * hd + d] = sum(lanes, 2 * L);
            out[oo + 3 * hd + d] = sum(lanes, 3 * L);
        }
    }

    private static void values1(float[] p, int po, int span, float[] kv, int base, int stride, int hd, float[] out,
                                int oo) {
        float[] lanes = LANES.get();
        for (int d = 0; d < hd; d++) {
            int row = base + d * stride;
            FloatVector a = FloatVector.zero(S);
            for (int j = 0; j < span; j += L) {
                VectorMask<Float> m = S.indexInRange(j, span);
                a = FloatVector.fromArray(S, kv, row + j, m).fma(FloatVector.fromArray(S, p, po + j, m), a);
            }
            a.intoArray(lanes, 0);
            out[oo + d] = sum(lanes, 0);
        }
    }

    /**
     * Σ of the L floats from lanes[off], pairwise (lane i with lane i + L/2, then with i + L/4, …: {@link Lanes#sum}'s
     * order for 256- and 512-bit vectors): values4 and values1 give a head the same bits whether it is taken in a pass
     * of four or alone.
     */
    private static float sum(float[] lanes, int off) {
        for (int w = L / 2; w >= 1; w /= 2) {
            for (int i = 0; i < w; i++) {
                lanes[off + i] += lanes[off + i + w];
            }
        }
        return lanes[off];
    }
}
