package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.u32;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ3_XXS (3.0625 bits per weight): d (f16); 64 bytes naming entries of the 256-entry grid of 4 values; then per
 * 32 weights a u32 of four 7-bit sign indices (one per 8 weights) and a 4-bit scale, weight scale d·(0.5 + s)/2.
 */
final class IQ3XXSFormat extends IqGridFormat {
    IQ3XXSFormat() {
        super(GgmlType.IQ3_XXS);
    }

    @Override
    void decode(MemorySegment s, long o, float[] y, int yOff) {
        float d = f16(s, o);
        for (int ib = 0; ib < 8; ib++) {
            int signsAndScale = u32(s, o + 66 + 4L * ib);
            float db = d * (0.5f + (signsAndScale >>> 28)) * 0.5f;
            for (int l = 0; l < 4; l++) {
                int signs = IqGrids.signs(signsAndScale >>> (7 * l) & 127);
                int at = yOff + 32 * ib + 8 * l;
                signed(y, at, db, IqGrids.IQ3XXS, u8(s, o + 2 + 8 * ib + 2 * l), 4, signs, 0);
                signed(y, at + 4, db, IqGrids.IQ3XXS, u8(s, o + 2 + 8 * ib + 2 * l + 1), 4, signs, 4);
            }
        }
    }
}
