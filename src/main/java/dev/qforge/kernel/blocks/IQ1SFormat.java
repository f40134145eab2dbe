package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.u16;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ1_S (1.5625 bits per weight): d (f16); qs[32]: low bytes of 11-bit entries of the 2048-entry grid of values
 * in {−1, 0, 1}; qh[8] (u16, one per 32 weights): the entries' top 3 bits, a 3-bit odd scale and the sign of a
 * shift δ = ±1/8 added to every value: w = d·(2s + 1)·(g + δ).
 */
final class IQ1SFormat extends IqGridFormat {
    static final float DELTA = 0.125f;

    IQ1SFormat() {
        super(GgmlType.IQ1_S);
    }

    @Override
    void decode(MemorySegment s, long o, float[] y, int yOff) {
        float d = f16(s, o);
        for (int ib = 0; ib < 8; ib++) {
            int q = u16(s, o + 34 + 2L * ib);
            float dl = d * (2 * (q >>> 12 & 7) + 1);
            float delta = (q & 0x8000) != 0 ? -DELTA : DELTA;
            for (int l = 0; l < 4; l++) {
                int entry = u8(s, o + 2 + 4 * ib + l) | (q >>> (3 * l) & 7) << 8;
                shifted(y, yOff + 32 * ib + 8 * l, dl, entry, delta);
            }
        }
    }

    /** y[yOff + j] = dl·(grid value + delta) for the 8 values of an IQ1 grid entry. */
    static void shifted(float[] y, int yOff, float dl, int entry, float delta) {
        for (int j = 0; j < 8; j++) {
            y[yOff + j] = dl * (IqGrids.IQ1S[entry * 8 + j] + delta);
        }
    }
}
