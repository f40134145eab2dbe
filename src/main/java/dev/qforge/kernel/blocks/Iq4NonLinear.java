package dev.qforge.kernel.blocks;

/**
 * The 4-bit non-linear codebook of IQ4_NL and IQ4_XS (ggml's kvalues_iq4nl) and llama.cpp's search
 * that quantizes onto it (quantize_row_iq4_nl_impl with ntry = 7, which ggml_quantize_chunk uses with and
 * without importance). Per 32 weights it picks a scale d so that x/d lands on codebook entries,
 * fitting d by weighted least squares for 15 trial anchors; IQ4_XS then rounds its eight block scales to
 * 6-bit multiples of one super-block scale and re-picks the entries for the rounded scales.
 */
final class Iq4NonLinear {
    /** The 16 levels, denser near zero where most weights are. */
    static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    private static final int BLOCK = 32;
    private static final int NTRY = 7;

    private Iq4NonLinear() {
    }

    /**
     * The index of the codebook entry nearest x; a midpoint goes up. The two distances are compared as
     * rounded floats, as ggml's best_index_int8 (b4748) does.
     */
    static int bestIndex(float x) {
        byte[] val = VALUES;
        if (x <= val[0]) {
            return 0;
        }
        if (x >= val[15]) {
            return 15;
        }
        int ml = 0;
        int mu = 15;
        while (mu - ml > 1) {
            int mav = (ml + mu) / 2;
            if (x < val[mav]) {
                mu = mav;
            } else {
                ml = mav;
            }
        }
        return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
    }

    /**
     * Quantizes one super-block of superBlock weights (32 for IQ4_NL, 256 for IQ4_XS).
     *
     * @param qw         importance aligned with x[xOff ..], or null (then weights are x²)
     * @param blockCodes receives the 6-bit block scale codes (ls, stored value + 32) when superBlock > 32
     * @param levels     receives the codebook index of each weight
     * @return the super-block scale to store as f16
     */
    static float quantize(float[] x, int xOff, int superBlock, float[] qw, int qwOff, int[] blockCodes,
                          byte[] levels) {
        float[] weight = new float[BLOCK];
        int nb = superBlock / BLOCK;
        float[] scales = new float[nb];
        float sigma2 = 0;
        for (int j = 0; j < superBlock; ++j) {
            sigma2 += x[xOff + j] * x[xOff + j];
        }
        sigma2 *= 2.f / superBlock;

        float maxScale = 0;
        float amaxScale = 0;
        for (int ib = 0; ib < nb; ++ib) {
            int xb = xOff + ib * BLOCK;
            if (qw != null) {
                BlockBytes.importanceWeights(x, xb, qw, qwOff + ib * BLOCK, sigma2, weight, BLOCK);
            } else {
                for (int j = 0; j < BLOCK; ++j) {
                    weight[j] = x[xb + j] * x[xb + j];
                }
            }
            float amax = 0;
            float max = 0;
            for (int j = 0; j < BLOCK; ++j) {
                float ax = Math.abs(x[xb + j]);
                if (ax > amax) {
                    amax = ax;
                    max = x[xb + j];
                }
            }
            if (amax < QuantMath.GROUP_MAX_EPS) {
                scales[ib] = 0;
                for (int j = 0; j < BLOCK; ++j) {
                    levels[ib * BLOCK + j] = 0;
                }
                continue;
            }
            float d = -max / VALUES[0];
            float id = 1 / d;
            float sumqx = 0;
            float sumq2 = 0;
            for (int j = 0; j < BLOCK; ++j) {
                float xj = x[xb + j];
                int l = bestIndex(id * xj);
                levels[ib * BLOCK + j] = (byte) l;
                float q = VALUES[l];
                float w = weight[j];
                sumqx += w * q * xj;
                sumq2 += w * q * q;
            }
            // ggml b4748 divides unguarded (0/0 = NaN when every weight of the block is 0); later ggml
            // and this code store 0 then. Only all-zero importance over a block can tell them apart.
            d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
            float best = d * sumqx;
            for (int itry = -NTRY; itry <= NTRY; ++itry) {
                id = (itry + VALUES[0]) / max;
                sumqx = 0;
                sumq2 = 0;
                for (int j = 0; j < BLOCK; ++j) {
                    float xj = x[xb + j];
                    int l = bestIndex(id * xj);
                    float q = VALUES[l];
                    float w = weight[j];
                    sumqx += w * q * xj;
                    sumq2 += w * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            float absD = Math.abs(d);
            if (absD > amaxScale) {
                amaxScale = absD;
                maxScale = d;
            }
        }

        if (nb > 1) {
            float d = -maxScale / 32; // -0.0 for an all-zero super-block, as in ggml
            float id = d != 0 ? 1 / d : 0.f;
            for (int ib = 0; ib < nb; ++ib) {
                int l = QuantMath.nearestInt(id * scales[ib]);
                l = Math.max(-32, Math.min(31, l));
                float dl = d * l;
                float idl = dl != 0 ? 1 / dl : 0.f;
                int xb = xOff + ib * BLOCK;
                for (int j = 0; j < BLOCK; ++j) {
                    levels[ib * BLOCK + j] = (byte) bestIndex(idl * x[xb + j]);
                }
                blockCodes[ib] = l + 32;
            }
            return d;
        }
        // One block: the scale is stored as is; re-pick entries for the unrounded fitted scale.
        float id = scales[0] != 0 ? 1 / scales[0] : 0;
        for (int j = 0; j < superBlock; ++j) {
            levels[j] = (byte) bestIndex(id * x[xOff + j]);
        }
        return scales[0];
    }
}
