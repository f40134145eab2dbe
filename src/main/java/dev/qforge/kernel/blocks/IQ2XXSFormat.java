package dev.qforge.kernel.blocks;

import dev.qforge.QforgeException;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.putU32;
import static dev.qforge.kernel.blocks.BlockBytes.u32;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ2_XXS (2.0625 bits per weight): d (f16), then per 32 weights two u32: four bytes naming entries of the
 * 256-entry grid, and four 7-bit sign indices with a 4-bit scale s on top, weight scale d·(0.5 + s)/4.
 *
 * <p>Quantizing is ggml's search (quantize_row_iq2_xxs_impl), bit for bit: per 32 weights the signs are split off
 * (an odd count of negatives flips the least important one, since the 7-bit index implies even parity), the
 * magnitudes are rounded to levels 0..2 at 13 trial scales, each group of 8 snapped to the grid (or to its best
 * neighbour), and the scale with the best weighted fit kept; the 8 sub-block scales share one f16 d in 4 bits each.
 * It needs importance, as llama.cpp's does.
 */
final class IQ2XXSFormat extends IqGridFormat {
    private static final int K_MAX_Q = 3;
    /** Built on first use (ggml_quantize_init): a few hundred milliseconds. */
    private static final class Lattice {
        static final IqLattice INSTANCE = new IqLattice(IqGrids.IQ2XXS, 8, 2, IqLattice.MAP_SIZE_2BIT, 2);
    }

    IQ2XXSFormat() {
        super(GgmlType.IQ2_XXS);
    }

    @Override
    public boolean needsImportance() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        if (importance == null) {
            throw new QforgeException("IQ2_XXS needs an importance matrix (as llama-quantize does): give --imatrix or --calib");
        }
        IqLattice lattice = Lattice.INSTANCE;
        float[] scales = new float[QK / 32];
        float[] weight = new float[32];
        float[] xval = new float[32];
        byte[] L = new byte[32];
        byte[] lAux = new byte[32];
        float[] wAux = new float[32];
        float[] fit = new float[2];
        boolean[] onGrid = new boolean[4];
        boolean[] onGridAux = new boolean[4];
        int[] blockSigns = new int[4];
        int[] q2 = new int[2 * (QK / 32)];
        for (int ibl = 0; ibl < blocks(n); ibl++) {
            long o = dstOffset + (long) ibl * bytesPerBlock();
            java.util.Arrays.fill(q2, 0);
            float maxScale = 0;
            int xbl = srcOff + QK * ibl;
            float sigma2 = BlockBytes.meanSquare(src, xbl, QK);
            for (int ib = 0; ib < QK / 32; ib++) {
                int xb = xbl + 32 * ib;
                BlockBytes.importanceWeights(src, xb, importance, QK * ibl + 32 * ib, sigma2, weight, 32);
                roots(weight, wAux, 32);
                splitSigns(src, xb, weight, xval, blockSigns, 4);
                float max = maxOf(xval, 32);
                if (max < 1e-15f) {
                    scales[ib] = 0;
                    java.util.Arrays.fill(L, (byte) 0);
                    continue;
                }
                float scale = KQuantMath.makeQpQuants(32, K_MAX_Q + 1, xval, L, weight);
                float effMax = scale * K_MAX_Q;
                scale = trialScales(lattice, xval, weight, wAux, 32, K_MAX_Q - 1, effMax, 6, 0.1f, scale, L, lAux, onGrid, onGridAux, fit);
                scale = resnap(lattice, xval, weight, wAux, 32, K_MAX_Q - 1, scale, L, onGrid, Resnap.ALL, fit);
                scale = positive(scale, blockSigns, 4, 127);
                for (int k = 0; k < 4; k++) {
                    int entry = lattice.entryOf(L, 8 * k, "IQ2_XXS");
                    q2[2 * ib] |= entry << 8 * k;
                    q2[2 * ib + 1] |= blockSigns[k] << 7 * k;
                }
                scales[ib] = scale;
                maxScale = Math.max(maxScale, scale);
            }
            if (maxScale == 0) {
                putF16(dst, o, 0f);
                for (int i = 0; i < 16; i++) {
                    putU32(dst, o + 2 + 4L * i, 0);
                }
                continue;
            }
            float d = maxScale / 31;
            putF16(dst, o, d);
            float id = 1 / d;
            for (int ib = 0; ib < QK / 32; ib++) {
                int l = QuantMath.nearestInt(0.5f * (id * scales[ib] - 1));
                l = Math.max(0, Math.min(15, l));
                q2[2 * ib + 1] |= l << 28;
            }
            for (int i = 0; i < 16; i++) {
                putU32(dst, o + 2 + 4L * i, q2[i]);
            }
        }
    }

    private static final Shape SHAPE = new Shape(signedLevels(IqGrids.IQ2XXS), 32, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels ± grid value, factors 2s + 1, d/8: d·(0.5 + s)/4 per sub-block, as ggml scales it. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int ib = 0; ib < 8; ib++) {
            long at = o + 2 + 8L * ib;
            int signsAndScale = u32(s, at + 4);
            factor[ib] = (byte) (2 * (signsAndScale >>> 28) + 1);
            for (int l = 0; l < 4; l++) {
                signedEntry(level, 32 * ib + 8 * l, IqGrids.IQ2XXS, u8(s, at + l), 8,
                        IqGrids.signs(signsAndScale >>> (7 * l) & 127), 0);
            }
        }
        return f16(s, o) * 0.125f;
    }
}
