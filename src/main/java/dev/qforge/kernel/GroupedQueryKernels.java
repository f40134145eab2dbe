package dev.qforge.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * The two products of grouped-query attention over one KV head: scores of several query heads against the keys,
 * stored in blocks of {@link #KEY_BLOCK} positions (per block, each dimension's keys of those positions as one vector),
 * and their probability-weighted sums of the values, stored by position ([position][dim]). The query heads that share
 * a KV head are taken together, up to four at a time, so each key and value vector is loaded once for all of them: a
 * decode step reads the whole KV cache, and reading it once per query head instead of once per KV head made attention
 * a tenth of a 1B model's step at a few hundred positions. Both products keep their accumulators in registers: scores
 * a vector of positions per head over the head dimension, sums two vectors of dimensions per head over the positions.
 * The values were once transposed too, which made every output float a sum of 16 lanes: 256 of them per pass of four
 * 64-wide heads, ~3.3 µs a pass whatever the span and most of a 1B model's attention at 32 positions. The keys were
 * once transposed whole ([dim][position], rows a capacity apart): a pass then read a few lines from each of headDim
 * rows spread over many pages, where a block's keys are one run of headDim vectors.
 */
public final class GroupedQueryKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Positions per key block: one vector of scores. */
    public static final int KEY_BLOCK = L;
    /** Query heads taken together: four accumulators, four broadcast or score loads per key or value vector. */
    public static final int HEADS_PER_PASS = 4;
    /**
     * Dimensions a values pass holds in registers: two vectors per head, eight accumulators for four heads. Sixteen
     * (four vectors per head) made the method too large for C1, whose failed compile ("out of virtual registers")
     * sometimes left it in unoptimized code that boxed every vector: a 512-position prefill ran 4× slower.
     */
    private static final int VALUE_CHUNK = 2 * L;

    private GroupedQueryKernels() {
    }

    /**
     * scores[so + g·scoreStride + j] = scale·Σ_d q[qo + g·headDim + d]·K(j, d), for the {@code heads} (1 to 4) query
     * heads g whose rows start at qo and the positions j below span counted from the start of the key block at
     * keys[base] (block i at base + i·headDim·KEY_BLOCK, its dimension d's keys at + d·KEY_BLOCK). The blocks that
     * hold positions below span are read whole; scores past span are not written.
     */
    public static void scores(float[] q, int qo, int heads, int headDim, float scale, float[] keys, int base, int span,
                              float[] scores, int so, int scoreStride) {
        if (heads == HEADS_PER_PASS) {
            scores4(q, qo, headDim, scale, keys, base, span, scores, so, scoreStride);
            return;
        }
        for (int g = 0; g < heads; g++) {
            scores1(q, qo + g * headDim, headDim, scale, keys, base, span, scores, so + g * scoreStride);
        }
    }

    private static void scores4(float[] q, int qo, int hd, float scale, float[] keys, int base, int span,
                                float[] scores, int so, int stride) {
        for (int j = 0, block = base; j < span; j += L, block += hd * L) {
            VectorMask<Float> m = S.indexInRange(j, span);
            FloatVector a0 = FloatVector.zero(S);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (int d = 0; d < hd; d++) {
                FloatVector k = FloatVector.fromArray(S, keys, block + d * L);
                a0 = k.fma(FloatVector.broadcast(S, q[qo + d]), a0);
                a1 = k.fma(FloatVector.broadcast(S, q[qo + hd + d]), a1);
                a2 = k.fma(FloatVector.broadcast(S, q[qo + 2 * hd + d]), a2);
                a3 = k.fma(FloatVector.broadcast(S, q[qo + 3 * hd + d]), a3);
            }
            a0.mul(scale).intoArray(scores, so + j, m);
            a1.mul(scale).intoArray(scores, so + stride + j, m);
            a2.mul(scale).intoArray(scores, so + 2 * stride + j, m);
            a3.mul(scale).intoArray(scores, so + 3 * stride + j, m);
        }
    }

    private static void scores1(float[] q, int qo, int hd, float scale, float[] keys, int base, int span,
                                float[] scores, int so) {
        for (int j = 0, block = base; j < span; j += L, block += hd * L) {
            VectorMask<Float> m = S.indexInRange(j, span);
            FloatVector a = FloatVector.zero(S);
            for (int d = 0; d < hd; d++) {
                a = FloatVector.fromArray(S, keys, block + d * L).fma(FloatVector.broadcast(S, q[qo + d]), a);
            }
            a.mul(scale).intoArray(scores, so + j, m);
        }
    }

    /**
     * out[oo + g·headDim + d] = Σ_j p[po + g·pStride + j]·values[base + j·stride + d] for the {@code heads} (1 to 4)
     * probability rows g and dimensions d below headDim: the values are stored by position (a row of headDim floats
     * per position, rows {@code stride} apart), so the sum is an axpy of each position's row into accumulators that
     * stay in registers, and no lanes are ever summed across. Each output float is one fma chain over j in order, the
     * same in a pass of four heads as alone.
     */
    public static void weightedValues(float[] p, int po, int pStride, int heads, int span, float[] values, int base,
                                      int stride, int headDim, float[] out, int oo) {
        for (int d0 = 0; d0 < headDim; d0 += VALUE_CHUNK) {
            int g = 0;
            for (; g + HEADS_PER_PASS <= heads; g += HEADS_PER_PASS) {
                values4(p, po + g * pStride, pStride, span, values, base + d0, stride, headDim - d0, out,
                        oo + g * headDim + d0, headDim);
            }
            for (; g < heads; g++) {
                values1(p, po + g * pStride, span, values, base + d0, stride, headDim - d0, out, oo + g * headDim + d0);
            }
        }
    }

    /**
     * Four heads' sums over up to {@link #VALUE_CHUNK} dimensions from values[base ..] (fewer where {@code width} is
     * smaller: the lanes past it are masked off); head g's probabilities at p[po + g·pStride ..], its output at
     * out[oo + g·outStride ..].
     */
    private static void values4(float[] p, int po, int pStride, int span, float[] values, int base, int stride,
                                int width, float[] out, int oo, int outStride) {
        VectorMask<Float> m0 = S.indexInRange(0, width);
        VectorMask<Float> m1 = S.indexInRange(L, width);
        FloatVector a00 = FloatVector.zero(S);
        FloatVector a01 = a00;
        FloatVector a10 = a00;
        FloatVector a11 = a00;
        FloatVector a20 = a00;
        FloatVector a21 = a00;
        FloatVector a30 = a00;
        FloatVector a31 = a00;
        for (int j = 0; j < span; j++) {
            int row = base + j * stride;
            FloatVector v0 = FloatVector.fromArray(S, values, row, m0);
            FloatVector v1 = FloatVector.fromArray(S, values, row + L, m1);
            FloatVector p0 = FloatVector.broadcast(S, p[po + j]);
            a00 = v0.fma(p0, a00);
            a01 = v1.fma(p0, a01);
            FloatVector p1 = FloatVector.broadcast(S, p[po + pStride + j]);
            a10 = v0.fma(p1, a10);
            a11 = v1.fma(p1, a11);
            FloatVector p2 = FloatVector.broadcast(S, p[po + 2 * pStride + j]);
            a20 = v0.fma(p2, a20);
            a21 = v1.fma(p2, a21);
            FloatVector p3 = FloatVector.broadcast(S, p[po + 3 * pStride + j]);
            a30 = v0.fma(p3, a30);
            a31 = v1.fma(p3, a31);
        }
        a00.intoArray(out, oo, m0);
        a01.intoArray(out, oo + L, m1);
        a10.intoArray(out, oo + outStride, m0);
        a11.intoArray(out, oo + outStride + L, m1);
        a20.intoArray(out, oo + 2 * outStride, m0);
        a21.intoArray(out, oo + 2 * outStride + L, m1);
        a30.intoArray(out, oo + 3 * outStride, m0);
        a31.intoArray(out, oo + 3 * outStride + L, m1);
    }

    /** {@link #values4} for one head. */
    private static void values1(float[] p, int po, int span, float[] values, int base, int stride, int width,
                                float[] out, int oo) {
        VectorMask<Float> m0 = S.indexInRange(0, width);
        VectorMask<Float> m1 = S.indexInRange(L, width);
        FloatVector a0 = FloatVector.zero(S);
        FloatVector a1 = a0;
        for (int j = 0; j < span; j++) {
            int row = base + j * stride;
            FloatVector pj = FloatVector.broadcast(S, p[po + j]);
            a0 = FloatVector.fromArray(S, values, row, m0).fma(pj, a0);
            a1 = FloatVector.fromArray(S, values, row + L, m1).fma(pj, a1);
        }
        a0.intoArray(out, oo, m0);
        a1.intoArray(out, oo + L, m1);
    }
}
