package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * What llama.cpp's lattice formats (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) share: super-blocks of
 * 256 weights whose groups of 8 (or 4) are entries of a fixed grid ({@link IqGrids}) with signs and scales. Each
 * format decodes one block ({@link #decode}); dequantizing and the dot product are built on that. Each writes its
 * blocks with ggml's own grid search, bit for bit ({@link IqLattice} holds what the searches share).
 */
abstract class IqGridFormat extends GgmlBlockFormat implements ScaledLevels {
    static final int QK = 256;
    private static final ThreadLocal<float[]> BLOCK = ThreadLocal.withInitial(() -> new float[QK]);
    private static final ThreadLocal<byte[]> LEVELS = ThreadLocal.withInitial(() -> new byte[QK]);
    private static final ThreadLocal<byte[]> FACTORS = ThreadLocal.withInitial(() -> new byte[QK / 16]);

    IqGridFormat(GgmlType type) {
        super(type);
    }

    /**
     * The block at o as 256 floats into y[yOff ..]: (d·factor)·level, which is ggml's value bit for bit — its own
     * order (a sub-block scale d·(0.5 + s)/4, then times the grid value, then the sign) multiplies the same
     * numbers, and every product is exact (at most 22 significant bits).
     */
    private void decode(MemorySegment s, long o, float[] y, int yOff, byte[] level, byte[] factor) {
        float d = unpack(s, o, level, factor);
        int span = shape().factorSpan();
        for (int i = 0; i < QK; i++) {
            y[yOff + i] = d * factor[i / span] * level[i];
        }
    }

    /** The distinct magnitudes of a grid, each with both signs: the levels of a format built on it. */
    static byte[] signedLevels(byte[] grid) {
        java.util.TreeSet<Integer> values = new java.util.TreeSet<>();
        for (byte g : grid) {
            values.add(g & 0xFF);
            values.add(-(g & 0xFF));
        }
        byte[] out = new byte[values.size()];
        int i = 0;
        for (int v : values) {
            out[i++] = (byte) v;
        }
        return out;
    }

    /** level[at + j] = grid[entry·width + j], negated where sign bit firstSign + j of signs is set, for j < width. */
    static void signedEntry(byte[] level, int at, byte[] grid, int entry, int width, int signs, int firstSign) {
        for (int j = 0; j < width; j++) {
            int v = grid[entry * width + j] & 0xFF;
            level[at + j] = (byte) ((signs >> (firstSign + j) & 1) != 0 ? -v : v);
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        byte[] level = LEVELS.get();
        byte[] factor = FACTORS.get();
        for (int b = 0; b < blocks(n); b++) {
            decode(src, srcOffset + (long) b * bytesPerBlock(), dst, dstOff + b * QK, level, factor);
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        BlockDot.checkX(x, xOff, n);
        float[] w = BLOCK.get();
        byte[] level = LEVELS.get();
        byte[] factor = FACTORS.get();
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < blocks(n); b++) {
            decode(row, rowOffset + (long) b * bytesPerBlock(), w, 0, level, factor);
            int xo = xOff + b * QK;
            for (int j = 0; j < QK; j += F.length()) {
                acc = FloatVector.fromArray(F, w, j).fma(FloatVector.fromArray(F, x, xo + j), acc);
            }
        }
        return Lanes.sum(acc);
    }

    /**
     * ggml's sign split of 8·groups weights src[xb ..] for the lattice quantizers: their magnitudes into xval, and per 8
     * weights a 7-bit sign index into signs[k]. The 7 bits imply an even count of negatives, so where the count
     * is odd the weight with the least weight·x² is flipped instead (its magnitude goes in negated).
     */
    static void splitSigns(float[] src, int xb, float[] weight, float[] xval, int[] signs, int groups) {
        plainSigns(src, xb, xval, signs, groups);
        for (int k = 0; k < groups; k++) {
            int s = signs[k];
            if (Integer.bitCount(s) % 2 != 0) {
                int imin = 0;
                float min = weight[8 * k] * src[xb + 8 * k] * src[xb + 8 * k];
                for (int i = 1; i < 8; i++) {
                    float ax = weight[8 * k + i] * src[xb + 8 * k + i] * src[xb + 8 * k + i];
                    if (ax < min) {
                        min = ax;
                        imin = i;
                    }
                }
                xval[8 * k + imin] = -xval[8 * k + imin];
                s ^= 1 << imin;
            }
            signs[k] = s & 127;
        }
    }

    /**
     * ggml's remedy for a negative best scale (which its searches should not produce): the scale made positive and
     * every sign of the sub-block flipped, within the {@code mask} bits the format stores (127 or 255).
     */
    static float positive(float scale, int[] signs, int groups, int mask) {
        if (scale >= 0) {
            return scale;
        }
        for (int k = 0; k < groups; k++) {
            signs[k] = ~signs[k] & mask;
        }
        return -scale;
    }

    /** Magnitudes into xval and, per 8 weights, the 8 sign bits as they are (IQ2_S, IQ3_S: no parity trick). */
    static void plainSigns(float[] src, int xb, float[] xval, int[] signs, int groups) {
        for (int k = 0; k < groups; k++) {
            int s = 0;
            for (int i = 0; i < 8; i++) {
                float v = src[xb + 8 * k + i];
                if (v >= 0) {
                    xval[8 * k + i] = v;
                } else {
                    xval[8 * k + i] = -v;
                    s |= 1 << i;
                }
            }
            signs[k] = s;
        }
    }

    /** The square roots of n weights (ggml's waux: what the neighbour searches weigh by). */
    static void roots(float[] weight, float[] out, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = (float) Math.sqrt(weight[i]);
        }
    }

    /** The largest of x[0 .. n). */
    static float maxOf(float[] x, int n) {
        float max = x[0];
        for (int i = 1; i < n; i++) {
            max = Math.max(max, x[i]);
        }
        return max;
    }

    /** ggml's σ² of the lattice quantizers: twice the mean square of the 256 weights at src[off ..]. */
    static float twiceMeanSquare(float[] src, int off) {
        float sumx2 = 0;
        for (int i = 0; i < QK; i++) {
            sumx2 += src[off + i] * src[off + i];
        }
        return 2 * sumx2 / QK;
    }

    /**
     * Σ w·x·q and Σ w·q² over n weights with q = 2L + 1 (the odd levels), in ggml's order, into fit[0] and fit[1]:
     * the best scale for levels L is fit[0]/fit[1].
     */
    static void weightedFit(float[] weight, float[] xval, byte[] L, int n, float[] fit) {
        float sumqx = 0;
        float sumq2 = 0;
        for (int i = 0; i < n; i++) {
            float w = weight[i];
            float q = 2 * L[i] + 1;
            sumqx += w * xval[i] * q;
            sumq2 += w * q * q;
        }
        fit[0] = sumqx;
        fit[1] = sumq2;
    }

    /** Which groups ggml snaps again at the best trial scale. */
    enum Resnap {
        /** Those the best trial left off the grid (IQ2_XS, IQ2_S, IQ3_XXS). */
        OFF_GRID,
        /** All of them, when any was off the grid (IQ3_S). */
        ALL_IF_ANY_OFF,
        /** All of them, always (IQ2_XXS). */
        ALL
    }

    /**
     * ggml's search over trial scales, shared by the 2- and 3-bit lattice quantizers: for each inverse scale
     * (2·maxLevel + 1 + is·step)/max, is in [−trials, trials], every group of n magnitudes xval snapped at that scale;
     * the trial with the best weighted fit keeps its levels in L and, per group, whether it was on the grid in
     * onGrid. Returns the best trial's scale, or {@code scale} when no trial fits.
     */
    static float trialScales(IqLattice lattice, float[] xval, float[] weight, float[] wAux, int n, int maxLevel, float max,
                             int trials, float step, float scale, byte[] L, byte[] lAux, boolean[] onGrid, boolean[] onGridAux,
                             float[] fit) {
        int w = lattice.width;
        int groups = n / w;
        float best = 0;
        for (int is = -trials; is <= trials; is++) {
            float id = (2 * maxLevel + 1 + is * step) / max;
            float thisScale = 1 / id;
            for (int k = 0; k < groups; k++) {
                onGridAux[k] = lattice.snap(xval, w * k, wAux, id, thisScale, maxLevel, lAux, w * k) >= 0;
            }
            weightedFit(weight, xval, lAux, n, fit);
            if (fit[1] > 0 && fit[0] * fit[0] > best * fit[1]) {
                scale = fit[0] / fit[1];
                best = scale * fit[0];
                System.arraycopy(lAux, 0, L, 0, n);
                System.arraycopy(onGridAux, 0, onGrid, 0, groups);
            }
        }
        return scale;
    }

    /**
     * ggml's second pass after the trials: the groups {@code resnap} names snapped again at the best scale, then the
     * scale refit to them (nothing when no group needs it, or the scale is not positive). Returns the scale.
     */
    static float resnap(IqLattice lattice, float[] xval, float[] weight, float[] wAux, int n, int maxLevel, float scale,
                        byte[] L, boolean[] onGrid, Resnap resnap, float[] fit) {
        int w = lattice.width;
        int groups = n / w;
        boolean anyOff = false;
        for (int k = 0; k < groups; k++) {
            anyOff |= !onGrid[k];
        }
        if (!(scale > 0) || resnap != Resnap.ALL && !anyOff) {
            return scale;
        }
        float id = 1 / scale;
        for (int k = 0; k < groups; k++) {
            if (resnap != Resnap.OFF_GRID || !onGrid[k]) {
                lattice.snap(xval, w * k, wAux, id, scale, maxLevel, L, w * k);
            }
        }
        weightedFit(weight, xval, L, n, fit);
        return fit[1] > 0 ? fit[0] / fit[1] : scale;
    }
}
