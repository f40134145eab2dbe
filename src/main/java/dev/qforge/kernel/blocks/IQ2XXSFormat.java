package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.u32;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ2_XXS (2.0625 bits per weight): d (f16), then per 32 weights two u32: four bytes naming entries of the
 * 256-entry grid, and four 7-bit sign indices with a 4-bit scale s on top, weight scale d·(0.5 + s)/4.
 */
final class IQ2XXSFormat extends IqGridFormat {
    IQ2XXSFormat() {
        super(GgmlType.IQ2_XXS);
    }

    @Override
    void decode(MemorySegment s, long o, float[] y, int yOff) {
        float d = f16(s, o);
        for (int ib = 0; ib < 8; ib++) {
            long at = o + 2 + 8L * ib;
            int signsAndScale = u32(s, at + 4);
            float db = d * (0.5f + (signsAndScale >>> 28)) * 0.25f;
            for (int l = 0; l < 4; l++) {
                signed(y, yOff + 32 * ib + 8 * l, db, IqGrids.IQ2XXS, u8(s, at + l), 8,
                        IqGrids.signs(signsAndScale >>> (7 * l) & 127), 0);
            }
        }
    }
}
