package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.putU8;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ2_S (2.5625 bits per weight): d (f16); qs[64]: 32 low bytes of 10-bit entries of the 1024-entry grid, then
 * 32 bytes of 8 explicit sign bits each; qh[8]: the entries' top 2 bits, four per byte; scales[8]: two 4-bit
 * scales per 32 weights, weight scale d·(0.5 + s)/4.
 */
final class IQ2SFormat extends IqGridFormat {
    private static final int K_MAX_Q = 3;

    /** Built on first use (ggml_quantize_init). */
    private static final class Lattice {
        static final IqLattice INSTANCE = new IqLattice(IqGrids.IQ2S, 8, 2, IqLattice.MAP_SIZE_2BIT, 1);
    }

    IQ2SFormat() {
        super(GgmlType.IQ2_S);
    }

    /**
     * ggml's quantize_row_iq2_s_impl, bit for bit: per 16 weights plain sign bits and two groups of 8 from the
     * 1024-entry grid at 19 trial scales, the off-grid groups snapped again at the best; importance optional (without
     * it a weight counts by σ²/4 + x²).
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        IqLattice lattice = Lattice.INSTANCE;
        float[] scales = new float[QK / 16];
        float[] weight = new float[16];
        float[] xval = new float[16];
        byte[] L = new byte[16];
        byte[] lAux = new byte[16];
        float[] wAux = new float[16];
        float[] fit = new float[2];
        boolean[] onGrid = new boolean[2];
        boolean[] onGridAux = new boolean[2];
        int[] blockSigns = new int[2];
        for (int ibl = 0; ibl < blocks(n); ibl++) {
            long o = dstOffset + (long) ibl * bytesPerBlock();
            for (int i = 0; i < bytesPerBlock(); i++) {
                putU8(dst, o + i, 0);
            }
            float maxScale = 0;
            int xbl = srcOff + QK * ibl;
            float sigma2 = twiceMeanSquare(src, xbl);
            for (int ib = 0; ib < QK / 16; ib++) {
                int xb = xbl + 16 * ib;
                if (importance != null) {
                    BlockBytes.importanceWeights(src, xb, importance, QK * ibl + 16 * ib, sigma2, weight, 16);
                } else {
                    for (int i = 0; i < 16; i++) {
                        weight[i] = 0.25f * sigma2 + src[xb + i] * src[xb + i];
                    }
                }
                roots(weight, wAux, 16);
                plainSigns(src, xb, xval, blockSigns, 2);
                float max = maxOf(xval, 16);
                if (max < 1e-8f) {
                    scales[ib] = 0;
                    continue;
                }
                onGrid[0] = onGrid[1] = true;
                float scale = trialScales(lattice, xval, weight, wAux, 16, K_MAX_Q - 1, max, 9, 0.1f, max / (2 * K_MAX_Q - 1),
                        L, lAux, onGrid, onGridAux, fit);
                scale = resnap(lattice, xval, weight, wAux, 16, K_MAX_Q - 1, scale, L, onGrid, Resnap.OFF_GRID, fit);
                scale = positive(scale, blockSigns, 2, 255);
                for (int k = 0; k < 2; k++) {
                    int entry = lattice.entryOf(L, 8 * k, "IQ2_S");
                    int i8 = 2 * ib + k;
                    putU8(dst, o + 2 + i8, entry & 255);
                    long qh = o + 66 + i8 / 4;
                    putU8(dst, qh, BlockBytes.u8(dst, qh) | (entry >> 8) << 2 * (i8 % 4));
                    putU8(dst, o + 2 + QK / 8 + i8, blockSigns[k]);
                }
                scales[ib] = scale;
                maxScale = Math.max(maxScale, scale);
            }
            if (maxScale == 0) {
                continue;
            }
            float d = maxScale / 31;
            putF16(dst, o, d * 0.9875f);
            float id = 1 / d;
            for (int ib = 0; ib < QK / 16; ib += 2) {
                int l0 = Math.max(0, Math.min(15, QuantMath.nearestInt(0.5f * (id * scales[ib] - 1))));
                int l1 = Math.max(0, Math.min(15, QuantMath.nearestInt(0.5f * (id * scales[ib + 1] - 1))));
                putU8(dst, o + 74 + ib / 2, l0 | l1 << 4);
            }
        }
    }

    private static final Shape SHAPE = new Shape(signedLevels(IqGrids.IQ2S), 16, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels ± grid value (10-bit entries, 8 plain sign bits), factors 2s + 1 per 16 weights, d/8. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int ib = 0; ib < 8; ib++) {
            int scales = u8(s, o + 74 + ib);
            factor[2 * ib] = (byte) (2 * (scales & 0xF) + 1);
            factor[2 * ib + 1] = (byte) (2 * (scales >>> 4) + 1);
            int high = u8(s, o + 66 + ib);
            for (int l = 0; l < 4; l++) {
                int entry = u8(s, o + 2 + 4 * ib + l) | (high << (8 - 2 * l) & 0x300);
                signedEntry(level, 32 * ib + 8 * l, IqGrids.IQ2S, entry, 8, u8(s, o + 34 + 4 * ib + l), 0);
            }
        }
        return f16(s, o) * 0.125f;
    }
}
