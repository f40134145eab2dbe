package dev.qforge.kernel.blocks;

/**
 * The first half of quantizing a Q4_K or Q5_K super-block, which the two share: 8 sub-blocks of 32
 * weights, each x ≈ d·sc·L − dmin·m with L in [0, nmax] and 6-bit sc, m. It writes the 16-byte head
 * (F16 d, F16 dmin, {@link PackedScales6}) and the final levels L; the format then packs L.
 *
 * <p>As in ggml's quantize_qN_K: without importance the "_ref" path fits each sub-block with
 * make_qkx2_quants (weights av|x| + |x|) and scales sc, m linearly against the largest; with importance
 * the "_impl" path fits with make_qkx3_quants (weights imp·sqrt(σ² + x²)) and quantizes the scales and
 * mins themselves with make_qp_quants. Both then requantize every weight against the stored (F16,
 * 6-bit) scales, so that L matches what dequantization will multiply.
 */
final class ScaleMinSearch {
    static final int HEAD_BYTES = 4 + PackedScales6.BYTES;

    private final int nmax;
    private final float refRmin;
    private final int refSteps;
    private final boolean clampWeighted;
    // per-call scratch: this object is per thread (quantize allocates one)
    private final float[] weights = new float[32];
    private final float[] scales = new float[8];
    private final float[] mins = new float[8];
    private final float[] sw = new float[8];
    private final byte[] laux = new byte[32];
    private final byte[] ls = new byte[8];
    private final byte[] lm = new byte[8];
    private final int[] lsInt = new int[8];
    private final int[] lmInt = new int[8];

    /**
     * @param refRmin  first trial offset of make_qkx2_quants (Q4_K −1, Q5_K −0.5)
     * @param refSteps its number of steps (Q4_K 20, Q5_K 15)
     * @param clampWeighted whether the importance path clamps make_qp_quants' levels to 63 before packing
     *                      (Q5_K does, Q4_K does not; it only matters if a level ever wrapped)
     */
    ScaleMinSearch(int nmax, float refRmin, int refSteps, boolean clampWeighted) {
        this.nmax = nmax;
        this.refRmin = refRmin;
        this.refSteps = refSteps;
        this.clampWeighted = clampWeighted;
    }

    /**
     * Quantizes x[xOff .. +256]; imp is null or the importance of those weights at imp[impOff ..].
     * Writes the head to block[0 .. 16) and the levels to L[0 .. 256).
     */
    void quantize(float[] x, int xOff, float[] imp, int impOff, byte[] block, byte[] L) {
        if (imp == null) {
            searchRef(x, xOff, block, L);
        } else {
            searchWeighted(x, xOff, imp, impOff, block, L);
        }
        requantize(x, xOff, block, L);
    }

    private void searchRef(float[] x, int xOff, byte[] block, byte[] L) {
        float maxScale = 0; // mins are subtracted, so scales are never negative
        float maxMin = 0;
        for (int j = 0; j < 8; j++) {
            int o = xOff + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) {
                sumX2 += x[o + l] * x[o + l];
            }
            float avX = (float) Math.sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) {
                weights[l] = avX + Math.abs(x[o + l]);
            }
            scales[j] = KQuantMath.makeQkx2Quants(32, nmax, x, o, weights, 0, L, 32 * j, mins, j, laux,
                    refRmin, 0.1f, refSteps, false);
            if (scales[j] > maxScale) {
                maxScale = scales[j];
            }
            if (mins[j] > maxMin) {
                maxMin = mins[j];
            }
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        for (int j = 0; j < 8; j++) {
            // C stores nearest_int into a uint8_t before MIN(63, ·)
            lsInt[j] = Math.min(63, QuantMath.nearestInt(invScale * scales[j]) & 0xFF);
            lmInt[j] = Math.min(63, QuantMath.nearestInt(invMin * mins[j]) & 0xFF);
        }
        PackedScales6.pack(lsInt, lmInt, block, 4);
        BlockBytes.putF16(block, 0, maxScale / 63f);
        BlockBytes.putF16(block, 2, maxMin / 63f);
    }

    private void searchWeighted(float[] x, int xOff, float[] imp, int impOff, byte[] block, byte[] L) {
        float sumX2 = 0;
        for (int l = 0; l < 256; l++) {
            sumX2 += x[xOff + l] * x[xOff + l];
        }
        float sigma2 = 2 * sumX2 / 256;
        for (int j = 0; j < 8; j++) {
            int o = xOff + 32 * j;
            for (int l = 0; l < 32; l++) {
                weights[l] = imp[impOff + 32 * j + l] * (float) Math.sqrt(sigma2 + x[o + l] * x[o + l]);
            }
            float sumW = 0;
            for (int l = 0; l < 32; l++) {
                sumW += weights[l];
            }
            sw[j] = sumW;
            scales[j] = QuantMath.makeQkx3Quants(32, nmax, x, o, weights, 0, L, 32 * j, mins, j, laux,
                    -0.9f, 0.05f, 36, false);
        }
        float dBlock = KQuantMath.makeQpQuants(8, 63, scales, ls, sw);
        float mBlock = KQuantMath.makeQpQuants(8, 63, mins, lm, sw);
        for (int j = 0; j < 8; j++) {
            lsInt[j] = clampWeighted ? Math.min(63, ls[j] & 0xFF) : ls[j] & 0xFF;
            lmInt[j] = clampWeighted ? Math.min(63, lm[j] & 0xFF) : lm[j] & 0xFF;
        }
        PackedScales6.pack(lsInt, lmInt, block, 4);
        BlockBytes.putF16(block, 0, dBlock);
        BlockBytes.putF16(block, 2, mBlock);
    }

    /** Every weight again against the scales as stored; a sub-block with scale 0 keeps its search levels. */
    private void requantize(float[] x, int xOff, byte[] block, byte[] L) {
        float d = BlockBytes.f16(block, 0);
        float dmin = BlockBytes.f16(block, 2);
        long lo = BlockBytes.i64(block, 4);
        int hi = BlockBytes.i32(block, 12);
        for (int j = 0; j < 8; j++) {
            float dj = d * PackedScales6.scale(lo, hi, j);
            if (dj == 0) {
                continue;
            }
            float mj = dmin * PackedScales6.min(lo, hi, j);
            for (int ii = 0; ii < 32; ii++) {
                int l = QuantMath.nearestInt((x[xOff + 32 * j + ii] + mj) / dj);
                L[32 * j + ii] = (byte) Math.max(0, Math.min(nmax, l));
            }
        }
    }
}
