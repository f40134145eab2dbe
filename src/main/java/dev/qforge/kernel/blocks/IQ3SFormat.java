package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ3_S (3.4375 bits per weight): d (f16); qs[64]: low bytes of 9-bit entries of the 512-entry grid of 4
 * values; qh[8]: their top bits, one byte per 32 weights; signs[32]: 8 explicit sign bits per 8 weights;
 * scales[4]: a 4-bit odd scale per 32 weights, weight scale d·(1 + 2s).
 */
final class IQ3SFormat extends IqGridFormat {
    IQ3SFormat() {
        super(GgmlType.IQ3_S);
    }

    @Override
    void decode(MemorySegment s, long o, float[] y, int yOff) {
        float d = f16(s, o);
        for (int ib = 0; ib < 8; ib++) {
            int scales = u8(s, o + 106 + ib / 2);
            float db = d * (1 + 2 * (ib % 2 == 0 ? scales & 0xF : scales >>> 4));
            int high = u8(s, o + 66 + ib);
            for (int l = 0; l < 4; l++) {
                int signs = u8(s, o + 74 + 4 * ib + l);
                int e1 = u8(s, o + 2 + 8 * ib + 2 * l) | (high << (8 - 2 * l) & 256);
                int e2 = u8(s, o + 2 + 8 * ib + 2 * l + 1) | (high << (7 - 2 * l) & 256);
                int at = yOff + 32 * ib + 8 * l;
                signed(y, at, db, IqGrids.IQ3S, e1, 4, signs, 0);
                signed(y, at + 4, db, IqGrids.IQ3S, e2, 4, signs, 4);
            }
        }
    }
}
