package dev.qforge.kernel.blocks;

/**
 * The scale searches that only the K-quants use, rewritten from ggml-quants.c so that every float
 * operation happens in the same order and precision as there (C float arithmetic without fused
 * multiply-adds, rounding by {@link QuantMath#nearestInt}); the results are then bit-identical to
 * llama.cpp's. The searches shared with other families (make_qx_quants, make_qkx3_quants) live in
 * {@link QuantMath}.
 *
 * <p>Quant arrays are {@code byte[]}: the C code stores into {@code uint8_t}/{@code int8_t} and so
 * truncates to 8 bits; storing with a {@code (byte)} cast and reading back signed or with
 * {@code & 0xFF} reproduces that, including the rare wrap-around.
 */
final class KQuantMath {
    private KQuantMath() {
    }

    /**
     * ggml's make_qkx2_quants: an asymmetric quantization x ≈ scale·L − theMin with L in [0, nmax],
     * found by trying nstep+1 inverse scales around nmax/(max−min) and refitting scale and min by weighted
     * least squares on each; keeps the try with the smallest weighted error (absolute when useMad).
     * Used by Q2_K, Q4_K and Q5_K without importance.
     *
     * @param minOut minOut[minIdx] receives the positive offset (−min)
     * @return the scale
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xOff, float[] weights, int wOff,
                                byte[] L, int lOff, float[] minOut, int minIdx, byte[] laux,
                                float rmin, float rdelta, int nstep, boolean useMad) {
        float min = x[xOff];
        float max = x[xOff];
        float sumW = weights[wOff];
        float sumX = sumW * x[xOff];
        for (int i = 1; i < n; i++) {
            float xi = x[xOff + i];
            if (xi < min) {
                min = xi;
            }
            if (xi > max) {
                max = xi;
            }
            float w = weights[wOff + i];
            sumW += w;
            sumX += w * xi;
        }
        if (min > 0) {
            min = 0; // the offset only ever moves the grid down: a positive block keeps 0 representable
        }
        if (max == min) {
            for (int i = 0; i < n; i++) {
                L[lOff + i] = 0;
            }
            minOut[minIdx] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestMad = 0;
        for (int i = 0; i < n; i++) {
            int l = QuantMath.nearestInt(iscale * (x[xOff + i] - min));
            l = Math.max(0, Math.min(nmax, l));
            L[lOff + i] = (byte) l;
            float diff = scale * l + min - x[xOff + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestMad += weights[wOff + i] * diff;
        }
        if (nstep < 1) {
            minOut[minIdx] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0;
            float sumL2 = 0;
            float sumXL = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xOff + i];
                int l = QuantMath.nearestInt(iscale * (xi - min));
                l = Math.max(0, Math.min(nmax, l));
                laux[i] = (byte) l;
                float w = weights[wOff + i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * xi;
            }
            float det = sumW * sumL2 - sumL * sumL;
            if (det > 0) {
                float thisScale = (sumW * sumXL - sumX * sumL) / det;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / det;
                if (thisMin > 0) {
                    // a positive min cannot be stored (it is kept as −min ≥ 0): refit the scale alone
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float mad = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * (laux[i] & 0xFF) + thisMin - x[xOff + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    mad += weights[wOff + i] * diff;
                }
                if (mad < bestMad) {
                    System.arraycopy(laux, 0, L, lOff, n);
                    bestMad = mad;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        minOut[minIdx] = -min;
        return scale;
    }

    /**
     * ggml's make_q3_quants: a symmetric quantization x ≈ scale·(L − nmax) with L − nmax in
     * [−nmax, nmax−1]. With doRmse it starts from the grid that puts the largest |x| at −nmax and then,
     * up to five passes, moves single quants while that raises the x²-weighted fit
     * (sumlx²/suml2); Q3_K without importance uses it.
     *
     * @return the scale (negative when the largest-magnitude value is positive, as in ggml)
     */
    static float makeQ3Quants(int n, int nmax, float[] x, int xOff, byte[] L, int lOff, boolean doRmse) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xOff + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xOff + i];
            }
        }
        if (amax < QuantMath.GROUP_MAX_EPS) {
            for (int i = 0; i < n; i++) {
                L[lOff + i] = 0;
            }
            return 0f;
        }
        float iscale = -nmax / max;
        if (doRmse) {
            float sumlx = 0;
            float suml2 = 0;
            for (int i = 0; i < n; i++) {
                float xi = x[xOff + i];
                int l = QuantMath.nearestInt(iscale * xi);
                l = Math.max(-nmax, Math.min(nmax - 1, l));
                L[lOff + i] = (byte) l;
                float w = xi * xi;
                sumlx += w * xi * l;
                suml2 += w * l * l;
            }
            for (int itry = 0; itry < 5; itry++) {
                int changed = 0;
                for (int i = 0; i < n; i++) {
                    float xi = x[xOff + i];
                    float w = xi * xi;
                    int li = L[lOff + i];
                    float slx = sumlx - w * xi * li;
                    if (slx > 0) {
                        float sl2 = suml2 - w * li * li;
                        int newL = QuantMath.nearestInt(xi * sl2 / slx);
                        newL = Math.max(-nmax, Math.min(nmax - 1, newL));
                        if (newL != li) {
                            slx += w * xi * newL;
                            sl2 += w * newL * newL;
                            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                                L[lOff + i] = (byte) newL;
                                sumlx = slx;
                                suml2 = sl2;
                                changed++;
                            }
                        }
                    }
                }
                if (changed == 0) {
                    break;
                }
            }
            for (int i = 0; i < n; i++) {
                L[lOff + i] += (byte) nmax;
            }
            return sumlx / suml2;
        }
        for (int i = 0; i < n; i++) {
            int l = QuantMath.nearestInt(iscale * x[xOff + i]);
            l = Math.max(-nmax, Math.min(nmax - 1, l));
            L[lOff + i] = (byte) (l + nmax);
        }
        return 1 / iscale;
    }

    /**
     * ggml's make_qp_quants: quantizes non-negative values (the sub-block scales or mins of a super-block)
     * to L in [0, nmax] with x ≈ scale·L, minimizing the error weighted by quantWeights: first the best
     * of nine inverse scales around nmax/max, then up to five passes of single-quant moves that raise
     * sumlx²/suml2. The K-quants with importance quantize their scales with it.
     *
     * @return the scale of the quantized values
     */
    static float makeQpQuants(int n, int nmax, float[] x, byte[] L, float[] quantWeights) {
        float max = 0;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[i]);
        }
        if (max == 0) {
            for (int i = 0; i < n; i++) {
                L[i] = 0;
            }
            return 0f;
        }
        float iscale = nmax / max;
        for (int i = 0; i < n; i++) {
            L[i] = (byte) QuantMath.nearestInt(iscale * x[i]);
        }
        float scale = 1 / iscale;
        float bestMse = 0;
        for (int i = 0; i < n; i++) {
            float diff = x[i] - scale * (L[i] & 0xFF);
            bestMse += quantWeights[i] * diff * diff;
        }
        for (int is = -4; is <= 4; is++) {
            if (is == 0) {
                continue;
            }
            float iscaleIs = (0.1f * is + nmax) / max;
            float scaleIs = 1 / iscaleIs;
            float mse = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.min(nmax, QuantMath.nearestInt(iscaleIs * x[i]));
                float diff = x[i] - scaleIs * l;
                mse += quantWeights[i] * diff * diff;
            }
            if (mse < bestMse) {
                bestMse = mse;
                iscale = iscaleIs;
            }
        }
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = Math.min(nmax, QuantMath.nearestInt(iscale * x[i]));
            L[i] = (byte) l;
            float w = quantWeights[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        for (int itry = 0; itry < 5; itry++) {
            int changed = 0;
            for (int i = 0; i < n; i++) {
                float w = quantWeights[i];
                int li = L[i] & 0xFF;
                float slx = sumlx - w * x[i] * li;
                float sl2 = suml2 - w * li * li;
                if (slx > 0 && sl2 > 0) {
                    int newL = Math.min(nmax, QuantMath.nearestInt(x[i] * sl2 / slx));
                    if (newL != li) {
                        slx += w * x[i] * newL;
                        sl2 += w * newL * newL;
                        if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                            L[i] = (byte) newL;
                            sumlx = slx;
                            suml2 = sl2;
                            changed++;
                        }
                    }
                }
            }
            if (changed == 0) {
                break;
            }
        }
        return sumlx / suml2;
    }
}
