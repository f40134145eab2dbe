package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.putU16;
import static dev.qforge.kernel.blocks.BlockBytes.putU8;

import static dev.qforge.kernel.blocks.BlockBytes.u16;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ1_M (1.75 bits per weight): qs[32]: low bytes of 11-bit entries of IQ1_S's grid; qh[16]: per 8 weights the
 * entry's top 3 bits and the sign of its shift δ = ±1/8; scales[8] as four u16: a 3-bit odd scale per 16 weights,
 * and in the four top nibbles together the block's f16 scale d: w = d·(2s + 1)·(g + δ).
 */
final class IQ1MFormat extends IqGridFormat {
    private static final int BLOCK = 16;
    private static final int[] SHIFT_MASKS = {0x00, 0x80, 0x08, 0x88};

    IQ1MFormat() {
        super(GgmlType.IQ1_M);
    }

    /**
     * ggml's quantize_row_iq1_m_impl, bit for bit: IQ1_S's exhaustive split per 16 weights, each half with its own
     * shift (four combinations scored per split), then the block scale refit over all its weights at their stored
     * levels and scales. A sub-block of zeros keeps, as in ggml, the shift its buffer held last: that of the same
     * sub-block of the previous super-block of this call. ggml keeps that buffer across the rows of a thread's chunk
     * and starts it uninitialized, so its bytes for such a sub-block depend on its threads; qforge's buffer starts at
     * shift 0 in each call, so its bytes do not. Only the shift bits in qh of an all-zero sub-block are concerned.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        IqLattice lattice = IQ1SFormat.Lattice.INSTANCE;
        float delta = IQ1SFormat.DELTA;
        float[] xPlus = {-1 + delta, delta, 1 + delta};
        float[] xMinus = {-1 - delta, -delta, 1 - delta};
        float[] scales = new float[QK / BLOCK];
        int[] shifts = new int[QK / BLOCK];
        float[] weight = new float[BLOCK];
        byte[] L = new byte[BLOCK];
        int[] index = new int[2];
        Integer[] order = new Integer[BLOCK];
        float[] sumqx = new float[4];
        float[] sumq2 = new float[4];
        int[] qs = new int[QK / 8];
        int[] qh = new int[QK / 16];
        for (int ibl = 0; ibl < blocks(n); ibl++) {
            long o = dstOffset + (long) ibl * bytesPerBlock();
            java.util.Arrays.fill(qs, 0);
            java.util.Arrays.fill(qh, 0);
            int[] sc = new int[4];
            float maxScale = 0;
            int xbl = srcOff + QK * ibl;
            float sigma2 = twiceMeanSquare(src, xbl);
            for (int ib = 0; ib < QK / BLOCK; ib++) {
                int xb = xbl + BLOCK * ib;
                weights(src, xb, importance, QK * ibl + BLOCK * ib, sigma2, weight);
                float max = Math.abs(src[xb]);
                for (int i = 1; i < BLOCK; i++) {
                    max = Math.max(max, Math.abs(src[xb + i]));
                }
                if (max < 1e-7f) {
                    scales[ib] = 0;
                    continue;
                }
                for (int j = 0; j < BLOCK; j++) {
                    order[j] = j;
                }
                java.util.Arrays.sort(order, (a, b) -> src[xb + a] < src[xb + b] ? -1 : src[xb + a] > src[xb + b] ? 1 : 0);
                float bestScore = -Float.MIN_NORMAL;
                float scale = max;
                int best1 = -1;
                int best2 = -1;
                int bestK = -1;
                // k: the shifts of the two halves, 0: +,+  1: +,−  2: −,+  3: −,−
                for (int i1 = 0; i1 <= BLOCK; i1++) {
                    for (int i2 = i1; i2 <= BLOCK; i2++) {
                        java.util.Arrays.fill(sumqx, 0);
                        java.util.Arrays.fill(sumq2, 0);
                        for (int j = 0; j < BLOCK; j++) {
                            int i = order[j];
                            int level = j < i1 ? 0 : j < i2 ? 1 : 2;
                            for (int k = 0; k < 4; k++) {
                                boolean plus = i < BLOCK / 2 ? k < 2 : k % 2 == 0;
                                float x = plus ? xPlus[level] : xMinus[level];
                                sumqx[k] += weight[i] * x * src[xb + i];
                                sumq2[k] += weight[i] * x * x;
                            }
                        }
                        for (int k = 0; k < 4; k++) {
                            if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > bestScore * sumq2[k]) {
                                scale = sumqx[k] / sumq2[k];
                                bestScore = scale * sumqx[k];
                                best1 = i1;
                                best2 = i2;
                                bestK = k;
                            }
                        }
                    }
                }
                if (best1 < 0) {
                    throw new IllegalStateException("IQ1_M: no split of a block scored (non-finite weights?)");
                }
                IQ1SFormat.splitLevels(L, order, BLOCK, best1, best2, scale < 0);
                if (scale < 0) {
                    scale = -scale;
                    bestK = 3 - bestK;
                }
                boolean allOnGrid = true;
                for (int k = 0; k < 2; k++) {
                    float[] xx = shift(bestK, k) ? xPlus : xMinus;
                    int u = lattice.point(L, 8 * k);
                    int entry = lattice.map[u];
                    if (entry < 0) {
                        allOnGrid = false;
                        entry = IQ1SFormat.bestNeighbour(lattice, u, src, xb + 8 * k, weight, 8 * k, scale, xx, L, 8 * k);
                    }
                    index[k] = entry;
                }
                if (!allOnGrid) {
                    float fx = 0;
                    float f2 = 0;
                    for (int k = 0; k < 2; k++) {
                        float[] xx = shift(bestK, k) ? xPlus : xMinus;
                        for (int j = 0; j < 8; j++) {
                            float w = weight[8 * k + j];
                            float q = xx[(lattice.grid[8 * index[k] + j] - 1) / 2];
                            fx += w * q * src[xb + 8 * k + j];
                            f2 += w * q * q;
                        }
                    }
                    if (fx > 0 && f2 > 0) {
                        scale = fx / f2;
                    }
                }
                qs[2 * ib] = index[0] & 255;
                qs[2 * ib + 1] = index[1] & 255;
                qh[ib] = index[0] >> 8 | (index[1] >> 8) << 4;
                scales[ib] = scale;
                shifts[ib] = bestK;
                maxScale = Math.max(maxScale, scale);
            }
            if (maxScale != 0) {
                float d = maxScale / 15;
                float id = 1 / d;
                float fx = 0;
                float f2 = 0;
                for (int ib = 0; ib < QK / BLOCK; ib++) {
                    int l = Math.max(0, Math.min(7, QuantMath.nearestInt(0.5f * (id * scales[ib] - 1))));
                    sc[ib / 4] |= l << 3 * (ib % 4);
                    qh[ib] |= SHIFT_MASKS[shifts[ib]];
                    int xb = xbl + BLOCK * ib;
                    weights(src, xb, importance, QK * ibl + BLOCK * ib, sigma2, weight);
                    for (int k = 0; k < 2; k++) {
                        float[] xx = shift(shifts[ib], k) ? xPlus : xMinus;
                        int entry = qs[2 * ib + k] + (qh[ib] << (8 - 4 * k) & 0x700);
                        for (int j = 0; j < 8; j++) {
                            float w = weight[8 * k + j];
                            float q = xx[(lattice.grid[8 * entry + j] - 1) / 2] * (2 * l + 1);
                            fx += w * q * src[xb + 8 * k + j];
                            f2 += w * q * q;
                        }
                    }
                }
                if (f2 > 0) {
                    d = fx / f2;
                }
                int bits = Float.floatToFloat16(d * 1.1125f) & 0xFFFF; // ggml's fudge factor
                sc[0] |= (bits & 0x000F) << 12;
                sc[1] |= (bits & 0x00F0) << 8;
                sc[2] |= (bits & 0x0F00) << 4;
                sc[3] |= bits & 0xF000;
            }
            for (int i = 0; i < QK / 8; i++) {
                putU8(dst, o + i, qs[i]);
            }
            for (int i = 0; i < QK / 16; i++) {
                putU8(dst, o + 32 + i, qh[i]);
            }
            for (int i = 0; i < 4; i++) {
                putU16(dst, o + 48 + 2L * i, sc[i]);
            }
        }
    }

    /** Whether half k (0 or 1) of a sub-block with shift combination {@code shifts} is shifted up (+δ). */
    private static boolean shift(int shifts, int k) {
        return k == 0 ? shifts < 2 : shifts % 2 == 0;
    }

    /** ggml's IQ1 weights: importance·√(σ² + x²), or x² without importance. */
    private static void weights(float[] src, int xb, float[] importance, int qwOff, float sigma2, float[] weight) {
        if (importance != null) {
            BlockBytes.importanceWeights(src, xb, importance, qwOff, sigma2, weight, BLOCK);
        } else {
            for (int i = 0; i < BLOCK; i++) {
                weight[i] = src[xb + i] * src[xb + i];
            }
        }
    }

    private static final Shape SHAPE = new Shape(IQ1SFormat.SHIFTED_LEVELS, 16, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels 8·(grid value ± 1/8) with a delta per 8 weights, factors 2s + 1 per 16 weights, d/8. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        int[] sc = new int[4];
        for (int i = 0; i < 4; i++) {
            sc[i] = u16(s, o + 48 + 2L * i);
        }
        int bits = sc[0] >>> 12 | (sc[1] >>> 8 & 0x00F0) | (sc[2] >>> 4 & 0x0F00) | (sc[3] & 0xF000);
        for (int ib = 0; ib < 8; ib++) {
            int scale = sc[ib / 2] >>> (6 * (ib % 2));
            factor[2 * ib] = (byte) (2 * (scale & 7) + 1);
            factor[2 * ib + 1] = (byte) (2 * (scale >>> 3 & 7) + 1);
            for (int l = 0; l < 4; l++) {
                // qh byte l/2 holds groups 2·(l/2) and 2·(l/2) + 1: entry bits 8–10 and the shift's sign in a nibble each
                int high = u8(s, o + 32 + 2 * ib + l / 2) >> (4 * (l % 2));
                int entry = u8(s, o + 4 * ib + l) | (high & 7) << 8;
                IQ1SFormat.shiftedEntry(level, 32 * ib + 8 * l, entry, (high & 8) != 0 ? -1 : 1);
            }
        }
        return Float.float16ToFloat((short) bits) * 0.125f;
    }
}
