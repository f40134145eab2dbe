package dev.qforge.numeric;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Lane operations whose results do not depend on whether C2 has compiled the caller yet. The Vector
 * API's {@code reduceLanes(ADD)} sums lanes in one order when intrinsified and in another in its Java
 * fallback, and {@code lanewise(EXP)} calls SVML in one and Math.exp per lane in the other, so the same
 * run gave results differing in the last bits depending on JIT timing. These are built from operations
 * that are exact per lane (add, FMA, shuffles, conversions), so the same inputs give the same bits.
 */
public final class Lanes {
    private static final VectorSpecies<Float> F512 = FloatVector.SPECIES_512;
    private static final VectorSpecies<Float> F256 = FloatVector.SPECIES_256;
    private static final VectorShuffle<Float> X16_8 = swap(F512, 8);
    private static final VectorShuffle<Float> X16_4 = swap(F512, 4);
    private static final VectorShuffle<Float> X16_2 = swap(F512, 2);
    private static final VectorShuffle<Float> X16_1 = swap(F512, 1);
    private static final VectorShuffle<Float> X8_4 = swap(F256, 4);
    private static final VectorShuffle<Float> X8_2 = swap(F256, 2);
    private static final VectorShuffle<Float> X8_1 = swap(F256, 1);

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float EXP_MAX = 88.72283f; // ln(Float.MAX_VALUE)
    private static final float EXP_MIN = -87.3365478515625f;

    private Lanes() {
    }

    private static VectorShuffle<Float> swap(VectorSpecies<Float> species, int distance) {
        return VectorShuffle.fromOp(species, i -> i ^ distance);
    }

    /**
     * {@link #sum} of a vector of n lanes stored at a[off ..), in scalar code: the same bits, for a kernel that keeps
     * several vectors and would otherwise pass each to a call (a vector passed to a call C2 did not inline is boxed).
     */
    public static float sum(float[] a, int off, int n) {
        if (n == 16) {
            return sum8(a, off, 8) + sum8(a, off + 1, 8);
        }
        if (n == 8) {
            return sum8(a, off, 4) + sum8(a, off + 1, 4);
        }
        float s = 0;
        for (int i = 0; i < n; i++) {
            s += a[off + i];
        }
        return s;
    }

    /**
     * Lane 0 of the pairwise sum over lanes off, off + 2, off + 4, … of a vector of 2·half lanes: the terms
     * (a[i] + a[i + half]) combined in {@link #sum}'s order, for half 8 or 4.
     */
    private static float sum8(float[] a, int off, int half) {
        if (half == 8) {
            return ((a[off] + a[off + 8]) + (a[off + 4] + a[off + 12])) + ((a[off + 2] + a[off + 10]) + (a[off + 6] + a[off + 14]));
        }
        return (a[off] + a[off + 4]) + (a[off + 2] + a[off + 6]);
    }

    /** Σ of the lanes, in a fixed pairwise order. */
    public static float sum(FloatVector v) {
        if (v.species() == F512) {
            v = v.add(v.rearrange(X16_8));
            v = v.add(v.rearrange(X16_4));
            v = v.add(v.rearrange(X16_2));
            return v.add(v.rearrange(X16_1)).lane(0);
        }
        if (v.species() == F256) {
            v = v.add(v.rearrange(X8_4));
            v = v.add(v.rearrange(X8_2));
            return v.add(v.rearrange(X8_1)).lane(0);
        }
        float s = 0;
        for (int i = 0; i < v.length(); i++) {
            s += v.lane(i);
        }
        return s;
    }

    /**
     * e^x per lane: x = n·ln2 + r with n = trunc(x·log2 e), |r| < ln2 (ln2 split in two for accuracy),
     * e^r by its Taylor series to r⁹ (relative error < 1e-8 there), scaled by 2ⁿ through the exponent
     * bits. Inputs are clamped to float's range, so −∞ gives ~1e-38 rather than 0.
     */
    public static FloatVector exp(FloatVector x) {
        VectorSpecies<Float> s = x.species();
        x = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector n = x.mul(LOG2E).convert(VectorOperators.F2I, 0).convert(VectorOperators.I2F, 0).reinterpretAsFloats();
        FloatVector r = n.fma(FloatVector.broadcast(s, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(s, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(s, 1f / 362880f);
        p = p.fma(r, FloatVector.broadcast(s, 1f / 40320f));
        p = p.fma(r, FloatVector.broadcast(s, 1f / 5040f));
        p = p.fma(r, FloatVector.broadcast(s, 1f / 720f));
        p = p.fma(r, FloatVector.broadcast(s, 1f / 120f));
        p = p.fma(r, FloatVector.broadcast(s, 1f / 24f));
        p = p.fma(r, FloatVector.broadcast(s, 1f / 6f));
        p = p.fma(r, FloatVector.broadcast(s, 0.5f));
        p = p.fma(r, FloatVector.broadcast(s, 1f));
        p = p.fma(r, FloatVector.broadcast(s, 1f));
        IntVector bits = ((IntVector) n.convert(VectorOperators.F2I, 0)).add(127).lanewise(VectorOperators.LSHL, 23);
        return p.mul(bits.reinterpretAsFloats());
    }
}
