package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.putU8;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ3_S (3.4375 bits per weight): d (f16); qs[64]: low bytes of 9-bit entries of the 512-entry grid of 4
 * values; qh[8]: their top bits, one byte per 32 weights; signs[32]: 8 explicit sign bits per 8 weights;
 * scales[4]: a 4-bit odd scale per 32 weights, weight scale d·(1 + 2s).
 */
final class IQ3SFormat extends IqGridFormat {
    private static final int K_MAX_Q = 8;

    /** Built on first use (ggml_quantize_init). */
    private static final class Lattice {
        static final IqLattice INSTANCE = new IqLattice(IqGrids.IQ3S, 4, 3, IqLattice.MAP_SIZE_3BIT, 3);
    }

    IQ3SFormat() {
        super(GgmlType.IQ3_S);
    }

    /**
     * ggml's quantize_row_iq3_s_impl, bit for bit: per 32 weights plain sign bits, magnitudes rounded to levels 0..7 at
     * 19 trial scales and snapped to the 512-entry grid, every group snapped again at the best scale when any was off
     * the grid. ggml does not advance its grid-index and sign pointers past a sub-block of zeros (the next sub-block's
     * land in its place); that is reproduced, since the bytes must be llama.cpp's.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        IqLattice lattice = Lattice.INSTANCE;
        float[] scales = new float[QK / 32];
        float[] weight = new float[32];
        float[] xval = new float[32];
        byte[] L = new byte[32];
        byte[] lAux = new byte[32];
        float[] wAux = new float[32];
        float[] fit = new float[2];
        boolean[] onGrid = new boolean[8];
        boolean[] onGridAux = new boolean[8];
        int[] blockSigns = new int[4];
        for (int ibl = 0; ibl < blocks(n); ibl++) {
            long o = dstOffset + (long) ibl * bytesPerBlock();
            for (int i = 0; i < bytesPerBlock(); i++) {
                putU8(dst, o + i, 0);
            }
            long qs = o + 2;
            long qh = o + 66;
            long signs = o + 74;
            float maxScale = 0;
            int xbl = srcOff + QK * ibl;
            float sigma2 = twiceMeanSquare(src, xbl);
            for (int ib = 0; ib < QK / 32; ib++) {
                int xb = xbl + 32 * ib;
                if (importance != null) {
                    BlockBytes.importanceWeights(src, xb, importance, QK * ibl + 32 * ib, sigma2, weight, 32);
                } else {
                    for (int i = 0; i < 32; i++) {
                        weight[i] = src[xb + i] * src[xb + i];
                    }
                }
                roots(weight, wAux, 32);
                plainSigns(src, xb, xval, blockSigns, 4);
                float max = maxOf(xval, 32);
                if (max == 0) {
                    scales[ib] = 0;
                    continue;
                }
                java.util.Arrays.fill(onGrid, false);
                float scale = trialScales(lattice, xval, weight, wAux, 32, K_MAX_Q - 1, max, 9, 0.2f, max / (2 * K_MAX_Q - 1),
                        L, lAux, onGrid, onGridAux, fit);
                scale = resnap(lattice, xval, weight, wAux, 32, K_MAX_Q - 1, scale, L, onGrid, Resnap.ALL_IF_ANY_OFF, fit);
                scale = positive(scale, blockSigns, 4, 255);
                for (int k = 0; k < 8; k++) {
                    int entry = lattice.entryOf(L, 4 * k, "IQ3_S");
                    putU8(dst, qs + k, entry & 255);
                    long at = qh + (ib * 8 + k) / 8;
                    putU8(dst, at, BlockBytes.u8(dst, at) | (entry >> 8) << ((ib * 8 + k) % 8));
                }
                qs += 8;
                for (int k = 0; k < 4; k++) {
                    putU8(dst, signs + k, blockSigns[k]);
                }
                signs += 4;
                scales[ib] = scale;
                maxScale = Math.max(maxScale, scale);
            }
            if (maxScale == 0) {
                continue;
            }
            float d = maxScale / 31;
            putF16(dst, o, d * 1.033f);
            float id = 1 / d;
            for (int ib = 0; ib < QK / 32; ib += 2) {
                int l1 = Math.max(0, Math.min(15, QuantMath.nearestInt(0.5f * (id * scales[ib] - 1))));
                int l2 = Math.max(0, Math.min(15, QuantMath.nearestInt(0.5f * (id * scales[ib + 1] - 1))));
                putU8(dst, o + 106 + ib / 2, l1 | l2 << 4);
            }
        }
    }

    private static final Shape SHAPE = new Shape(signedLevels(IqGrids.IQ3S), 32, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels ± grid value (9-bit 4-wide entries, plain sign bits), factors 1 + 2s, d. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int ib = 0; ib < 8; ib++) {
            int scales = u8(s, o + 106 + ib / 2);
            factor[ib] = (byte) (1 + 2 * (ib % 2 == 0 ? scales & 0xF : scales >>> 4));
            int high = u8(s, o + 66 + ib);
            for (int l = 0; l < 4; l++) {
                int signs = u8(s, o + 74 + 4 * ib + l);
                int e1 = u8(s, o + 2 + 8 * ib + 2 * l) | (high << (8 - 2 * l) & 256);
                int e2 = u8(s, o + 2 + 8 * ib + 2 * l + 1) | (high << (7 - 2 * l) & 256);
                int at = 32 * ib + 8 * l;
                signedEntry(level, at, IqGrids.IQ3S, e1, 4, signs, 0);
                signedEntry(level, at + 4, IqGrids.IQ3S, e2, 4, signs, 4);
            }
        }
        return f16(s, o);
    }
}
