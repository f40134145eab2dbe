package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

/**
 * TQ1_0 (1.6875 bits per weight): five trits per byte (3⁵ = 243 ≤ 256), qs[48] then qh[4] then the f16 scale.
 * A byte holds its trits as a base-3 number (the first trit most significant) scaled to 0..255 by rounding up
 * x·256/243, so that trit n is read back as the top bits of (byte·3ⁿ mod 256)·3 — a multiply and a shift, no
 * division. qs[0..32) hold weights m + 32n (n = 0..4) for byte m: the first 160 weights; qs[32..48) weights
 * 160 + m + 16n: the next 80; qh[j] weights 240 + j + 4n for n = 0..3, its fifth trit zero: the last 16.
 */
final class TQ1_0Format extends TernaryFormat {
    private static final int[] POW3 = {1, 3, 9, 27, 81, 243};

    TQ1_0Format() {
        super(GgmlType.TQ1_0);
    }

    @Override
    int scaleOffset() {
        return 52;
    }

    /** The byte of trits t[first + n·stride] for n < count, padded with zero trits to five. */
    private static int packByte(int[] t, int first, int stride, int count) {
        int q = 0;
        for (int n = 0; n < 5; n++) {
            q = q * 3 + (n < count ? t[first + n * stride] : 0);
        }
        return (q * 256 + 242) / 243;
    }

    @Override
    void pack(int[] t, int off, MemorySegment dst, long o) {
        for (int m = 0; m < 32; m++) {
            BlockBytes.putU8(dst, o + m, packByte(t, off + m, 32, 5));
        }
        for (int m = 0; m < 16; m++) {
            BlockBytes.putU8(dst, o + 32 + m, packByte(t, off + 160 + m, 16, 5));
        }
        for (int j = 0; j < 4; j++) {
            BlockBytes.putU8(dst, o + 48 + j, packByte(t, off + 240 + j, 4, 4));
        }
    }

    private static byte trit(int b, int n) {
        int q = (b * POW3[n]) & 0xFF;
        return (byte) (((q * 3) >> 8) - 1);
    }

    @Override
    void unpack(MemorySegment src, long o, byte[] t) {
        for (int m = 0; m < 32; m++) {
            int b = BlockBytes.u8(src, o + m);
            for (int n = 0; n < 5; n++) {
                t[m + 32 * n] = trit(b, n);
            }
        }
        for (int m = 0; m < 16; m++) {
            int b = BlockBytes.u8(src, o + 32 + m);
            for (int n = 0; n < 5; n++) {
                t[160 + m + 16 * n] = trit(b, n);
            }
        }
        for (int j = 0; j < 4; j++) {
            int b = BlockBytes.u8(src, o + 48 + j);
            for (int n = 0; n < 4; n++) {
                t[240 + j + 4 * n] = trit(b, n);
            }
        }
    }
}
