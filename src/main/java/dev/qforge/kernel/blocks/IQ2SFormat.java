package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ2_S (2.5625 bits per weight): d (f16); qs[64]: 32 low bytes of 10-bit entries of the 1024-entry grid, then
 * 32 bytes of 8 explicit sign bits each; qh[8]: the entries' top 2 bits, four per byte; scales[8]: two 4-bit
 * scales per 32 weights, weight scale d·(0.5 + s)/4.
 */
final class IQ2SFormat extends IqGridFormat {
    IQ2SFormat() {
        super(GgmlType.IQ2_S);
    }

    @Override
    void decode(MemorySegment s, long o, float[] y, int yOff) {
        float d = f16(s, o);
        for (int ib = 0; ib < 8; ib++) {
            int scales = u8(s, o + 74 + ib);
            float db0 = d * (0.5f + (scales & 0xF)) * 0.25f;
            float db1 = d * (0.5f + (scales >>> 4)) * 0.25f;
            int high = u8(s, o + 66 + ib);
            for (int l = 0; l < 4; l++) {
                int entry = u8(s, o + 2 + 4 * ib + l) | (high << (8 - 2 * l) & 0x300);
                signed(y, yOff + 32 * ib + 8 * l, l < 2 ? db0 : db1, IqGrids.IQ2S, entry, 8, u8(s, o + 34 + 4 * ib + l), 0);
            }
        }
    }
}
