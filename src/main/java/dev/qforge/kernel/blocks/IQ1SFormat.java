package dev.qforge.kernel.blocks;

import dev.qforge.QforgeException;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.putU16;
import static dev.qforge.kernel.blocks.BlockBytes.putU8;
import static dev.qforge.kernel.blocks.BlockBytes.u16;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ1_S (1.5625 bits per weight): d (f16); qs[32]: low bytes of 11-bit entries of the 2048-entry grid of values
 * in {−1, 0, 1}; qh[8] (u16, one per 32 weights): the entries' top 3 bits, a 3-bit odd scale and the sign of a
 * shift δ = ±1/8 added to every value: w = d·(2s + 1)·(g + δ).
 */
final class IQ1SFormat extends IqGridFormat {
    static final float DELTA = 0.125f;
    private static final int BLOCK = 32;

    /** Built on first use (ggml_quantize_init): the 2048-entry grid, neighbours at the 3 nearest distances. */
    static final class Lattice {
        static final IqLattice INSTANCE = new IqLattice(IqGrids.iq1Levels(), 8, 2, IqLattice.MAP_SIZE_2BIT, 3);
    }

    IQ1SFormat() {
        super(GgmlType.IQ1_S);
    }

    @Override
    public boolean needsImportance() {
        return true;
    }

    /**
     * ggml's quantize_row_iq1_s_impl, bit for bit. With three values per weight the best split of 32 weights is
     * found exhaustively: sorted by value, every pair of boundaries (lower third → −1, middle → 0, upper → 1) is
     * scored for both shifts ±δ in closed form from prefix sums; groups of 8 whose levels are off the grid take the
     * neighbour of least weighted error, and the scale is refit to the grid points.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        if (importance == null) {
            throw new QforgeException("IQ1_S needs an importance matrix (as llama-quantize does): give --imatrix or --calib");
        }
        IqLattice lattice = Lattice.INSTANCE;
        float[] xPlus = {-1 + DELTA, DELTA, 1 + DELTA};
        float[] xMinus = {-1 - DELTA, -DELTA, 1 - DELTA};
        float[] scales = new float[QK / BLOCK];
        int[] shifts = new int[QK / BLOCK];
        float[] weight = new float[BLOCK];
        float[] sumx = new float[BLOCK + 1];
        float[] sumw = new float[BLOCK + 1];
        byte[] L = new byte[BLOCK];
        int[] index = new int[BLOCK / 8];
        Integer[] order = new Integer[BLOCK];
        for (int ibl = 0; ibl < blocks(n); ibl++) {
            long o = dstOffset + (long) ibl * bytesPerBlock();
            putF16(dst, o, 0f);
            int[] qh = new int[QK / BLOCK];
            for (int i = 0; i < QK / 8; i++) {
                putU8(dst, o + 2 + i, 0);
            }
            float maxScale = 0;
            int xbl = srcOff + QK * ibl;
            float sigma2 = twiceMeanSquare(src, xbl);
            for (int ib = 0; ib < QK / BLOCK; ib++) {
                int xb = xbl + BLOCK * ib;
                BlockBytes.importanceWeights(src, xb, importance, QK * ibl + BLOCK * ib, sigma2, weight, BLOCK);
                float max = Math.abs(src[xb]);
                for (int i = 1; i < BLOCK; i++) {
                    max = Math.max(max, Math.abs(src[xb + i]));
                }
                if (max < 1e-12f) {
                    scales[ib] = 0;
                    continue;
                }
                // ascending by value; equal values keep their order (glibc's qsort merges, which is stable)
                for (int j = 0; j < BLOCK; j++) {
                    order[j] = j;
                }
                java.util.Arrays.sort(order, (a, b) -> src[xb + a] < src[xb + b] ? -1 : src[xb + a] > src[xb + b] ? 1 : 0);
                sumx[0] = 0;
                sumw[0] = 0;
                for (int j = 0; j < BLOCK; j++) {
                    int i = order[j];
                    sumx[j + 1] = sumx[j] + weight[i] * src[xb + i];
                    sumw[j + 1] = sumw[j] + weight[i];
                }
                float bestScore = -Float.MIN_NORMAL;
                float scale = max;
                int best1 = -1;
                int best2 = -1;
                int bestShift = 0;
                for (int i1 = 0; i1 <= BLOCK; i1++) {
                    for (int i2 = i1; i2 <= BLOCK; i2++) {
                        for (int sh = 1; sh >= -1; sh -= 2) {
                            float[] xx = sh == 1 ? xPlus : xMinus;
                            float sumqx = (sumx[i1] - sumx[0]) * xx[0] + (sumx[i2] - sumx[i1]) * xx[1] + (sumx[BLOCK] - sumx[i2]) * xx[2];
                            float sumq2 = (sumw[i1] - sumw[0]) * xx[0] * xx[0] + (sumw[i2] - sumw[i1]) * xx[1] * xx[1]
                                    + (sumw[BLOCK] - sumw[i2]) * xx[2] * xx[2];
                            if (sumq2 > 0 && sumqx * sumqx > bestScore * sumq2) {
                                scale = sumqx / sumq2;
                                bestScore = scale * sumqx;
                                best1 = i1;
                                best2 = i2;
                                bestShift = sh;
                            }
                        }
                    }
                }
                if (best1 < 0) {
                    throw new IllegalStateException("IQ1_S: no split of a block scored (non-finite weights?)");
                }
                splitLevels(L, order, BLOCK, best1, best2, scale < 0);
                if (scale < 0) {
                    scale = -scale;
                    bestShift = -bestShift;
                }
                float[] xx = bestShift == 1 ? xPlus : xMinus;
                boolean allOnGrid = true;
                for (int k = 0; k < BLOCK / 8; k++) {
                    int u = lattice.point(L, 8 * k);
                    int entry = lattice.map[u];
                    if (entry < 0) {
                        allOnGrid = false;
                        entry = bestNeighbour(lattice, u, src, xb + 8 * k, weight, 8 * k, scale, xx, L, 8 * k);
                    }
                    index[k] = entry;
                }
                if (!allOnGrid) {
                    float sumqx = 0;
                    float sumq2 = 0;
                    for (int k = 0; k < BLOCK / 8; k++) {
                        for (int j = 0; j < 8; j++) {
                            float w = weight[8 * k + j];
                            float q = xx[(lattice.grid[8 * index[k] + j] - 1) / 2];
                            sumqx += w * q * src[xb + 8 * k + j];
                            sumq2 += w * q * q;
                        }
                    }
                    if (sumqx > 0 && sumq2 > 0) {
                        scale = sumqx / sumq2;
                    }
                }
                int h = 0;
                for (int k = 0; k < BLOCK / 8; k++) {
                    putU8(dst, o + 2 + (BLOCK / 8) * ib + k, index[k] & 255);
                    h |= (index[k] >> 8) << 3 * k;
                }
                qh[ib] = h;
                scales[ib] = scale;
                shifts[ib] = bestShift;
                maxScale = Math.max(maxScale, scale);
            }
            if (maxScale != 0) {
                float d = maxScale / 15;
                putF16(dst, o, d * 1.125f); // ggml's fudge factor
                float id = 1 / d;
                for (int ib = 0; ib < QK / BLOCK; ib++) {
                    int l = Math.max(0, Math.min(7, QuantMath.nearestInt(0.5f * (id * scales[ib] - 1))));
                    if (shifts[ib] == -1) {
                        l |= 8;
                    }
                    qh[ib] |= l << 12;
                }
            }
            for (int ib = 0; ib < QK / BLOCK; ib++) {
                putU16(dst, o + 34 + 2L * ib, qh[ib]);
            }
        }
    }

    /**
     * The levels of the best split of n weights sorted by {@code order}: below best1 level 0 (−1), up to best2 level 1
     * (0), the rest level 2 (+1); mirrored to 2 − level when the best scale came out negative.
     */
    static void splitLevels(byte[] L, Integer[] order, int n, int best1, int best2, boolean mirror) {
        for (int j = 0; j < n; j++) {
            int level = j < best1 ? 0 : j < best2 ? 1 : 2;
            L[order[j]] = (byte) (mirror ? 2 - level : level);
        }
    }

    /**
     * ggml's iq1_find_best_neighbour2: the neighbour of an off-grid point with the least Σ w·(scale·xx[level] − x)²
     * over the signed weights x; its levels go to L.
     */
    static int bestNeighbour(IqLattice lattice, int point, float[] x, int xOff, float[] w, int wOff, float scale, float[] xx,
                             byte[] L, int lOff) {
        int start = -lattice.map[point] - 1;
        int count = lattice.neighbours[start];
        float best = Float.MAX_VALUE;
        int index = -1;
        for (int j = 1; j <= count; j++) {
            int e = lattice.neighbours[start + j];
            float d2 = 0;
            for (int i = 0; i < 8; i++) {
                float q = xx[(lattice.grid[8 * e + i] - 1) / 2];
                float diff = scale * q - x[xOff + i];
                d2 += w[wOff + i] * diff * diff;
            }
            if (d2 < best) {
                best = d2;
                index = e;
            }
        }
        if (index < 0) {
            throw new IllegalStateException("IQ1: no neighbour scored (non-finite weights?)");
        }
        for (int i = 0; i < 8; i++) {
            L[lOff + i] = (byte) ((lattice.grid[8 * index + i] - 1) / 2);
        }
        return index;
    }

    /** The values 8·(v ± 1/8), v in {−1, 0, 1}: IQ1_S and IQ1_M levels, with d/8 as their scale. */
    static final byte[] SHIFTED_LEVELS = {-9, -7, -1, 1, 7, 9};

    private static final Shape SHAPE = new Shape(SHIFTED_LEVELS, 32, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels 8·(grid value + delta), factors 2s + 1, d/8: ggml's d·(2s + 1)·(value ± 1/8). */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int ib = 0; ib < 8; ib++) {
            int q = u16(s, o + 34 + 2L * ib);
            factor[ib] = (byte) (2 * (q >>> 12 & 7) + 1);
            int delta = (q & 0x8000) != 0 ? -1 : 1;
            for (int l = 0; l < 4; l++) {
                shiftedEntry(level, 32 * ib + 8 * l, u8(s, o + 2 + 4 * ib + l) | (q >>> (3 * l) & 7) << 8, delta);
            }
        }
        return f16(s, o) * 0.125f;
    }

    /** level[at + j] = 8·value + delta for the 8 values of an IQ1 grid entry (delta ±1: ggml's ±1/8, times 8). */
    static void shiftedEntry(byte[] level, int at, int entry, int delta) {
        for (int j = 0; j < 8; j++) {
            level[at + j] = (byte) (8 * IqGrids.IQ1S[entry * 8 + j] + delta);
        }
    }
}
