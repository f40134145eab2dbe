package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * TQ1_0 (1.6875 bits per weight): five trits per byte (3⁵ = 243 ≤ 256), qs[48] then qh[4] then the f16 scale.
 * A byte holds its trits as a base-3 number (the first trit most significant) scaled to 0..255 by rounding up
 * x·256/243, so that trit n is read back as the top bits of (byte·3ⁿ mod 256)·3 — a multiply and a shift, no
 * division. qs[0..32) hold weights m + 32n (n = 0..4) for byte m: the first 160 weights; qs[32..48) weights
 * 160 + m + 16n: the next 80; qh[j] weights 240 + j + 4n for n = 0..3, its fifth trit zero: the last 16.
 */
final class TQ1_0Format extends TernaryFormat {
    private static final int[] POW3 = {1, 3, 9, 27, 81, 243};

    /** Where the block's f16 scale is. */
    private static final int SCALE_OFFSET = 52;

    TQ1_0Format() {
        super(GgmlType.TQ1_0);
    }

    @Override
    int scaleOffset() {
        return SCALE_OFFSET;
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

    /** Trit n of each byte of v, as −1, 0, 1: (byte·3ⁿ mod 256)·3 >> 8 is 0 below 86, 1 below 171, else 2. */
    private static ByteVector trits(ByteVector v, int n) {
        ByteVector q = n == 0 ? v : v.mul((byte) POW3[n]);
        ByteVector zero = ByteVector.zero(BlockDot.B16);
        return zero.blend((byte) 1, q.compare(VectorOperators.UGE, (byte) 86))
                .add(zero.blend((byte) 1, q.compare(VectorOperators.UGE, (byte) 171)))
                .sub((byte) 1);
    }

    /** The five trits of each loaded byte are five runs of 16 consecutive weights; only qh's 16 are scalar. */
    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        BlockDot.checkX(x, xOff, n);
        FloatVector total = FloatVector.zero(F);
        for (int b = 0; b < blocks(n); b++) {
            long o = rowOffset + (long) b * bytesPerBlock();
            int xo = xOff + b * QK;
            FloatVector acc = FloatVector.zero(F);
            for (int chunk = 0; chunk < 3; chunk++) {
                ByteVector v = BlockDot.load16(row, o + 16L * chunk);
                // qs[0..32): weight m + 32n; qs[32..48): weight 160 + m + 16n
                int first = chunk < 2 ? 16 * chunk : 160;
                int stride = chunk < 2 ? 32 : 16;
                for (int t = 0; t < 5; t++) {
                    acc = BlockDot.fma16(trits(v, t), x, xo + first + stride * t, acc);
                }
            }
            float tail = 0;
            for (int j = 0; j < 4; j++) {
                int q = BlockBytes.u8(row, o + 48 + j);
                for (int t = 0; t < 4; t++) {
                    tail += trit(q, t) * x[xo + 240 + j + 4 * t];
                }
            }
            float d = BlockBytes.f16(row, o + SCALE_OFFSET);
            total = acc.fma(FloatVector.broadcast(F, d), total);
            total = total.add(FloatVector.zero(F).withLane(0, tail * d));
        }
        return Lanes.sum(total);
    }
}
