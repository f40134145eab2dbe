package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.putU32;
import static dev.qforge.kernel.blocks.BlockBytes.putU8;
import static dev.qforge.kernel.blocks.BlockBytes.u32;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ3_XXS (3.0625 bits per weight): d (f16); 64 bytes naming entries of the 256-entry grid of 4 values; then per
 * 32 weights a u32 of four 7-bit sign indices (one per 8 weights) and a 4-bit scale, weight scale d·(0.5 + s)/2.
 *
 * <p>Quantizing is ggml's search (quantize_row_iq3_xxs_impl), bit for bit: signs split off per 8 weights as for
 * IQ2_XXS, magnitudes rounded to levels 0..7 at 31 trial scales, each group of 4 snapped to the grid or its best
 * neighbour, the groups left off the grid searched again at the best scale. Importance is optional (without it each
 * weight counts by its square), as in llama.cpp.
 */
final class IQ3XXSFormat extends IqGridFormat {
    private static final int K_MAX_Q = 8;

    /** Built on first use (ggml_quantize_init). */
    private static final class Lattice {
        static final IqLattice INSTANCE = new IqLattice(IqGrids.IQ3XXS, 4, 3, IqLattice.MAP_SIZE_3BIT, 2);
    }

    IQ3XXSFormat() {
        super(GgmlType.IQ3_XXS);
    }

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
        int[] indices = new int[QK / 4];
        int[] scalesAndSigns = new int[QK / 32];
        for (int ibl = 0; ibl < blocks(n); ibl++) {
            long o = dstOffset + (long) ibl * bytesPerBlock();
            java.util.Arrays.fill(indices, 0);
            java.util.Arrays.fill(scalesAndSigns, 0);
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
                splitSigns(src, xb, weight, xval, blockSigns, 4);
                float max = maxOf(xval, 32);
                if (max < 1e-8f) {
                    scales[ib] = 0;
                    java.util.Arrays.fill(L, (byte) 0);
                    continue;
                }
                float scale = trialScales(lattice, xval, weight, wAux, 32, K_MAX_Q - 1, max, 15, 0.2f, max / (2 * K_MAX_Q - 1),
                        L, lAux, onGrid, onGridAux, fit);
                scale = resnap(lattice, xval, weight, wAux, 32, K_MAX_Q - 1, scale, L, onGrid, Resnap.OFF_GRID, fit);
                scale = positive(scale, blockSigns, 4, 127);
                for (int k = 0; k < 8; k++) {
                    int entry = lattice.entryOf(L, 4 * k, "IQ3_XXS");
                    indices[8 * ib + k] = entry;
                }
                scalesAndSigns[ib] = blockSigns[0] | blockSigns[1] << 7 | blockSigns[2] << 14 | blockSigns[3] << 21;
                scales[ib] = scale;
                maxScale = Math.max(maxScale, scale);
            }
            if (maxScale == 0) {
                putF16(dst, o, 0f);
                for (int i = 0; i < 96; i++) {
                    putU8(dst, o + 2 + i, 0);
                }
                continue;
            }
            float d = maxScale / 31;
            putF16(dst, o, d * 1.0125f); // ggml's fudge factor
            float id = 1 / d;
            for (int ib = 0; ib < QK / 32; ib++) {
                int l = QuantMath.nearestInt(0.5f * (id * scales[ib] - 1));
                l = Math.max(0, Math.min(15, l));
                scalesAndSigns[ib] |= l << 28;
            }
            for (int i = 0; i < QK / 4; i++) {
                putU8(dst, o + 2 + i, indices[i]);
            }
            for (int ib = 0; ib < QK / 32; ib++) {
                putU32(dst, o + 2 + QK / 4 + 4L * ib, scalesAndSigns[ib]);
            }
        }
    }

    private static final Shape SHAPE = new Shape(signedLevels(IqGrids.IQ3XXS), 32, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels ± grid value (4-wide entries, 7-bit sign indices), factors 2s + 1, d/4: d·(0.5 + s)/2. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int ib = 0; ib < 8; ib++) {
            int signsAndScale = u32(s, o + 66 + 4L * ib);
            factor[ib] = (byte) (2 * (signsAndScale >>> 28) + 1);
            for (int l = 0; l < 4; l++) {
                int signs = IqGrids.signs(signsAndScale >>> (7 * l) & 127);
                int at = 32 * ib + 8 * l;
                signedEntry(level, at, IqGrids.IQ3XXS, u8(s, o + 2 + 8 * ib + 2 * l), 4, signs, 0);
                signedEntry(level, at + 4, IqGrids.IQ3XXS, u8(s, o + 2 + 8 * ib + 2 * l + 1), 4, signs, 4);
            }
        }
        return f16(s, o) * 0.25f;
    }
}
