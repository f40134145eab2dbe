package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.u16;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ2_XS (2.3125 bits per weight): d (f16), 32 u16 (a 9-bit entry of the 512-entry grid and a 7-bit sign index
 * per 8 weights), then 8 bytes of two 4-bit scales per 32 weights (one per 16), weight scale d·(0.5 + s)/4.
 */
final class IQ2XSFormat extends IqGridFormat {
    IQ2XSFormat() {
        super(GgmlType.IQ2_XS);
    }

    @Override
    void decode(MemorySegment s, long o, float[] y, int yOff) {
        float d = f16(s, o);
        for (int ib = 0; ib < 8; ib++) {
            int scales = u8(s, o + 66 + ib);
            float db0 = d * (0.5f + (scales & 0xF)) * 0.25f;
            float db1 = d * (0.5f + (scales >>> 4)) * 0.25f;
            for (int l = 0; l < 4; l++) {
                int q = u16(s, o + 2 + 2L * (4 * ib + l));
                signed(y, yOff + 32 * ib + 8 * l, l < 2 ? db0 : db1, IqGrids.IQ2XS, q & 511, 8, IqGrids.signs(q >>> 9), 0);
            }
        }
    }
}
