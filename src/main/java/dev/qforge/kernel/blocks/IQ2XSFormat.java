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
 * IQ2_XS (2.3125 bits per weight): d (f16), 32 u16 (a 9-bit entry of the 512-entry grid and a 7-bit sign index
 * per 8 weights), then 8 bytes of two 4-bit scales per 32 weights (one per 16), weight scale d·(0.5 + s)/4.
 */
final class IQ2XSFormat extends IqGridFormat {
    private static final int K_MAX_Q = 3;

    /** Built on first use (ggml_quantize_init). */
    private static final class Lattice {
        static final IqLattice INSTANCE = new IqLattice(IqGrids.IQ2XS, 8, 2, IqLattice.MAP_SIZE_2BIT, 2);
    }

    IQ2XSFormat() {
        super(GgmlType.IQ2_XS);
    }

    @Override
    public boolean needsImportance() {
        return true;
    }

    /**
     * ggml's quantize_row_iq2_xs_impl, bit for bit: as IQ2_XXS's search but per 16 weights (two groups of 8 from the
     * 512-entry grid, one 4-bit scale), 19 trial scales, and the groups left off the grid searched again at the best.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        if (importance == null) {
            throw new QforgeException("IQ2_XS needs an importance matrix (as llama-quantize does): give --imatrix or --calib");
        }
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
        int[] q2 = new int[2 * (QK / 16)];
        for (int ibl = 0; ibl < blocks(n); ibl++) {
            long o = dstOffset + (long) ibl * bytesPerBlock();
            java.util.Arrays.fill(q2, 0);
            float maxScale = 0;
            int xbl = srcOff + QK * ibl;
            float sigma2 = BlockBytes.meanSquare(src, xbl, QK);
            for (int ib = 0; ib < QK / 16; ib++) {
                int xb = xbl + 16 * ib;
                BlockBytes.importanceWeights(src, xb, importance, QK * ibl + 16 * ib, sigma2, weight, 16);
                roots(weight, wAux, 16);
                splitSigns(src, xb, weight, xval, blockSigns, 2);
                float max = maxOf(xval, 16);
                if (max < 1e-15f) {
                    scales[ib] = 0;
                    java.util.Arrays.fill(L, (byte) 0);
                    continue;
                }
                onGrid[0] = onGrid[1] = true;
                float scale = trialScales(lattice, xval, weight, wAux, 16, K_MAX_Q - 1, max, 9, 0.1f, max / (2 * K_MAX_Q - 1),
                        L, lAux, onGrid, onGridAux, fit);
                scale = resnap(lattice, xval, weight, wAux, 16, K_MAX_Q - 1, scale, L, onGrid, Resnap.OFF_GRID, fit);
                scale = positive(scale, blockSigns, 2, 127);
                for (int k = 0; k < 2; k++) {
                    int entry = lattice.entryOf(L, 8 * k, "IQ2_XS");
                    q2[2 * ib + k] = entry | blockSigns[k] << 9;
                }
                scales[ib] = scale;
                maxScale = Math.max(maxScale, scale);
            }
            putF16(dst, o, 0f);
            for (int i = 0; i < QK / 32; i++) {
                putU8(dst, o + 66 + i, 0);
            }
            if (maxScale == 0) {
                for (int i = 0; i < QK / 8; i++) {
                    putU16(dst, o + 2 + 2L * i, 0);
                }
                continue;
            }
            float d = maxScale / 31;
            putF16(dst, o, d);
            float id = 1 / d;
            for (int ib = 0; ib < QK / 16; ib += 2) {
                int l0 = Math.max(0, Math.min(15, QuantMath.nearestInt(0.5f * (id * scales[ib] - 1))));
                int l1 = Math.max(0, Math.min(15, QuantMath.nearestInt(0.5f * (id * scales[ib + 1] - 1))));
                putU8(dst, o + 66 + ib / 2, l0 | l1 << 4);
            }
            for (int i = 0; i < QK / 8; i++) {
                putU16(dst, o + 2 + 2L * i, q2[i]);
            }
        }
    }

    private static final Shape SHAPE = new Shape(signedLevels(IqGrids.IQ2XS), 16, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels ± grid value, factors 2s + 1 per 16 weights, d/8: d·(0.5 + s)/4, as ggml scales them. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int ib = 0; ib < 8; ib++) {
            int scales = u8(s, o + 66 + ib);
            factor[2 * ib] = (byte) (2 * (scales & 0xF) + 1);
            factor[2 * ib + 1] = (byte) (2 * (scales >>> 4) + 1);
            for (int l = 0; l < 4; l++) {
                int q = u16(s, o + 2 + 2L * (4 * ib + l));
                signedEntry(level, 32 * ib + 8 * l, IqGrids.IQ2XS, q & 511, 8, IqGrids.signs(q >>> 9), 0);
            }
        }
        return f16(s, o) * 0.125f;
    }
}
