package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

/**
 * TQ2_0 (2.0625 bits per weight): the trits as 2-bit fields, qs[64] then the f16 scale. Each 32-byte half of qs
 * covers 128 weights: byte m holds weights m, m + 32, m + 64 and m + 96 of that half in bits 0–1, 2–3, 4–5, 6–7.
 */
final class TQ2_0Format extends TernaryFormat {
    TQ2_0Format() {
        super(GgmlType.TQ2_0);
    }

    @Override
    int scaleOffset() {
        return 64;
    }

    @Override
    void pack(int[] t, int off, MemorySegment dst, long o) {
        for (int half = 0; half < 2; half++) {
            for (int m = 0; m < 32; m++) {
                int q = 0;
                for (int l = 0; l < 4; l++) {
                    q |= t[off + half * 128 + l * 32 + m] << (2 * l);
                }
                BlockBytes.putU8(dst, o + half * 32 + m, q);
            }
        }
    }

    @Override
    void unpack(MemorySegment src, long o, byte[] t) {
        for (int half = 0; half < 2; half++) {
            for (int m = 0; m < 32; m++) {
                int q = BlockBytes.u8(src, o + half * 32 + m);
                for (int l = 0; l < 4; l++) {
                    t[half * 128 + l * 32 + m] = (byte) ((q >> (2 * l) & 3) - 1);
                }
            }
        }
    }
}
