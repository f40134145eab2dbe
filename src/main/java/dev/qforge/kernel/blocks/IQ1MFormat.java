package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.u16;
import static dev.qforge.kernel.blocks.BlockBytes.u8;

/**
 * IQ1_M (1.75 bits per weight): qs[32]: low bytes of 11-bit entries of IQ1_S's grid; qh[16]: per 8 weights the
 * entry's top 3 bits and the sign of its shift δ = ±1/8; scales[8] as four u16: a 3-bit odd scale per 16 weights,
 * and in the four top nibbles together the block's f16 scale d: w = d·(2s + 1)·(g + δ).
 */
final class IQ1MFormat extends IqGridFormat {
    IQ1MFormat() {
        super(GgmlType.IQ1_M);
    }

    @Override
    void decode(MemorySegment s, long o, float[] y, int yOff) {
        int[] sc = new int[4];
        for (int i = 0; i < 4; i++) {
            sc[i] = u16(s, o + 48 + 2L * i);
        }
        int bits = sc[0] >>> 12 | (sc[1] >>> 8 & 0x00F0) | (sc[2] >>> 4 & 0x0F00) | (sc[3] & 0xF000);
        float d = Float.float16ToFloat((short) bits);
        for (int ib = 0; ib < 8; ib++) {
            int scale = sc[ib / 2] >>> (6 * (ib % 2));
            float dl1 = d * (2 * (scale & 7) + 1);
            float dl2 = d * (2 * (scale >>> 3 & 7) + 1);
            for (int l = 0; l < 4; l++) {
                // qh byte l/2 holds groups 2·(l/2) and 2·(l/2) + 1: entry bits 8–10 and the shift's sign in a nibble each
                int high = u8(s, o + 32 + 2 * ib + l / 2) >> (4 * (l % 2));
                int entry = u8(s, o + 4 * ib + l) | (high & 7) << 8;
                IQ1SFormat.shifted(y, yOff + 32 * ib + 8 * l, l < 2 ? dl1 : dl2, entry,
                        (high & 8) != 0 ? -IQ1SFormat.DELTA : IQ1SFormat.DELTA);
            }
        }
    }
}
