package dev.qforge.kernel.blocks;

/**
 * The scalar search routines that llama.cpp's quantizers share (ggml-quants.c: nearest_int,
 * make_qx_quants, make_qkx3_quants), written so that every float operation happens in the same order
 * and precision as in C. ggml-quants.c is built into ggml-base without -march flags, so the C compiler
 * has no FMA to contract into: each {@code a*b + c} there rounds twice, and so it does here. Do not
 * "simplify" these expressions (no Math.fma, no reordering, no double): the bytes of a quantized model
 * depend on every rounding.
 *
 * <p>Level arrays are {@code byte[]} with offsets; levels are small non-negative ints (at most 63).
 */
public final class QuantMath {
    /** 1.5 * 2^23: adding it to |x| < 2^22 leaves round-to-nearest-even(x) in the low mantissa bits. */
    private static final float ROUNDING_MAGIC = 12582912f;

    /** Below this a group's max |x| counts as zero (ggml's GROUP_MAX_EPS). */
    public static final float GROUP_MAX_EPS = 1e-15f;

    private QuantMath() {
    }

    /**
     * Round to nearest, ties to even, as ggml's nearest_int: the float add rounds x into the mantissa
     * of 1.5*2^23 and the low 22 bits are read back. Valid for |x| <= 4194303; larger values give
     * garbage, exactly as in C (callers clamp the result or keep the input in range).
     */
    public static int nearestInt(float x) {
        float v = x + ROUNDING_MAGIC;
        return (Float.floatToRawIntBits(v) & 0x007fffff) - 0x00400000;
    }

    /**
     * Symmetric levels for n values: L[i] in [0, 2*nmax) stands for the signed level L[i] - nmax, the
     * value is scale * (L[i] - nmax). ggml's make_qx_quants.
     *
     * <p>The scale is anchored on the value of largest magnitude (which maps to -nmax, so the sign of
     * the scale follows it). rmseType 0 returns that anchor scale. Otherwise the anchor levels are
     * refitted by weighted least squares and 18 nearby anchors (nmax ± 0.1·k) are tried, keeping the
     * one with the largest Σwxl²/Σwl²; a negative rmseType stops after the first refit and returns the
     * mean of fitted and anchor scale. Weights are qw when given, otherwise by rmseType: 1 → x², 2 → 1,
     * 3 → |x|, 4 (or more) → sqrt|x|.
     *
     * @param qw per-value weights aligned with x (nullable)
     * @return the scale; 0 with all levels 0 when the group is all (near) zero
     */
    public static float makeQxQuants(int n, int nmax, float[] x, int xOff, byte[] levels, int lOff, int rmseType,
                                     float[] qw, int qwOff) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; ++i) {
            float ax = Math.abs(x[xOff + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xOff + i];
            }
        }
        if (amax < GROUP_MAX_EPS) {
            for (int i = 0; i < n; ++i) {
                levels[lOff + i] = 0;
            }
            return 0f;
        }
        float iscale = (float) -nmax / max;
        if (rmseType == 0) {
            for (int i = 0; i < n; ++i) {
                int l = nearestInt(iscale * x[xOff + i]);
                levels[lOff + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
            }
            return 1 / iscale;
        }
        boolean returnEarly = false;
        if (rmseType < 0) {
            rmseType = -rmseType;
            returnEarly = true;
        }
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xOff + i];
            int l = nearestInt(iscale * xi);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            levels[lOff + i] = (byte) (l + nmax);
            float w = weight(xi, rmseType, qw, qwOff + i);
            // C: w*x[i]*l is (w*x)*l, and w*l*l is (w*l)*l, each product rounded
            sumlx += w * xi * l;
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        if (returnEarly) {
            return suml2 > 0 ? 0.5f * (scale + 1 / iscale) : 1 / iscale;
        }
        float best = scale * sumlx;
        for (int is = -9; is <= 9; ++is) {
            if (is == 0) {
                continue;
            }
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xOff + i];
                int l = nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                float w = weight(xi, rmseType, qw, qwOff + i);
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; ++i) {
                    int l = nearestInt(iscale * x[xOff + i]);
                    levels[lOff + i] = (byte) (nmax + Math.max(-nmax, Math.min(nmax - 1, l)));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    private static float weight(float x, int rmseType, float[] qw, int i) {
        if (qw != null) {
            return qw[i];
        }
        return switch (rmseType) {
            case 1 -> x * x;
            case 2 -> 1;
            case 3 -> Math.abs(x);
            default -> (float) Math.sqrt(Math.abs(x)); // sqrtf: a correctly rounded float square root
        };
    }

    /**
     * Asymmetric levels for n values: L[i] in [0, nmax], the value is scale * L[i] - theMin (theMin
     * >= 0). ggml's make_qkx3_quants: starts from the range [min(x, 0), max x], then tries nstep+1
     * stretched grids (iscale = (rmin + rdelta*is + nmax) / range), fitting scale and offset of each by
     * weighted least squares, and keeps the one with the smallest weighted error (|diff| when useMad,
     * else diff²). A fit whose offset comes out positive is refitted through zero. Each trial measures the
     * range from the best offset so far, as ggml does.
     *
     * <p>Weights are the given ones, or x² when weights is null.
     *
     * @param mins    receives -offset (the "min" that dequantization subtracts) at mins[minIdx]
     * @param scratch n bytes of scratch space (the trial levels), or null to allocate
     * @return the scale; 0 with all levels 0 when the group has no range
     */
    public static float makeQkx3Quants(int n, int nmax, float[] x, int xOff, float[] weights, int wOff,
                                       byte[] levels, int lOff, float[] mins, int minIdx, byte[] scratch,
                                       float rmin, float rdelta, int nstep, boolean useMad) {
        byte[] aux = scratch != null ? scratch : new byte[n];
        float min = x[xOff];
        float max = x[xOff];
        float sumW = weights != null ? weights[wOff] : x[xOff] * x[xOff];
        float sumX = sumW * x[xOff];
        for (int i = 1; i < n; ++i) {
            float xi = x[xOff + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float w = weights != null ? weights[wOff + i] : xi * xi;
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) {
            min = 0;
        }
        if (max <= min) {
            for (int i = 0; i < n; ++i) {
                levels[lOff + i] = 0;
            }
            mins[minIdx] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestMad = 0;
        for (int i = 0; i < n; ++i) {
            float xi = x[xOff + i];
            int l = nearestInt(iscale * (xi - min));
            l = Math.max(0, Math.min(nmax, l));
            levels[lOff + i] = (byte) l;
            float diff = scale * l + min - xi;
            diff = useMad ? Math.abs(diff) : diff * diff;
            float w = weights != null ? weights[wOff + i] : xi * xi;
            bestMad += w * diff;
        }
        if (nstep < 1) {
            mins[minIdx] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; ++is) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXL = 0;
            for (int i = 0; i < n; ++i) {
                float xi = x[xOff + i];
                // min is the best offset so far and may sit near max: v can be huge, inf or nan, so clamp
                // before rounding (ggml does the same since it hit this; for in-range v it is identical).
                float v = iscale * (xi - min);
                int l = v > 0 ? nearestInt(Math.min(v, (float) nmax)) : 0;
                aux[i] = (byte) l;
                float w = weights != null ? weights[wOff + i] : xi * xi;
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * xi;
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float mad = 0;
                for (int i = 0; i < n; ++i) {
                    float xi = x[xOff + i];
                    float diff = thisScale * aux[i] + thisMin - xi;
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    float w = weights != null ? weights[wOff + i] : xi * xi;
                    mad += w * diff;
                }
                if (mad < bestMad) {
                    System.arraycopy(aux, 0, levels, lOff, n);
                    bestMad = mad;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        mins[minIdx] = -min;
        return scale;
    }
}
