package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * TQ2_0 (2.0625 bits per weight): the trits as 2-bit fields, qs[64] then the f16 scale. Each 32-byte half of qs
 * covers 128 weights: byte m holds weights m, m + 32, m + 64 and m + 96 of that half in bits 0–1, 2–3, 4–5, 6–7.
 */
final class TQ2_0Format extends TernaryFormat {
    /** Where the block's f16 scale is. */
    private static final int SCALE_OFFSET = 64;

    TQ2_0Format() {
        super(GgmlType.TQ2_0);
    }

    /**
     * The field 3, which no quantizer writes, is the level 2 to ggml (it dequantizes (q − 1)·d): declared, so
     * that a file holding it decodes as llama.cpp decodes it rather than failing to pack.
     */
    private static final Shape SHAPE = new Shape(new byte[] {-1, 0, 1, 2}, 0, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    @Override
    int scaleOffset() {
        return SCALE_OFFSET;
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

    /**
     * Byte m of a 16-byte load holds, in field l, the weight 32l + m of its half: each field of the load is 16
     * consecutive weights, decoded by a shift, a mask and −1 without leaving the registers.
     */
    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        BlockDot.checkX(x, xOff, n);
        FloatVector total = FloatVector.zero(F);
        for (int b = 0; b < blocks(n); b++) {
            long o = rowOffset + (long) b * bytesPerBlock();
            int xo = xOff + b * QK;
            FloatVector acc = FloatVector.zero(F);
            for (int chunk = 0; chunk < 4; chunk++) {
                ByteVector q = BlockDot.load16(row, o + 16L * chunk);
                int first = (chunk / 2) * 128 + (chunk % 2) * 16;
                for (int l = 0; l < 4; l++) {
                    ByteVector field = l == 0 ? q : q.reinterpretAsInts().lanewise(VectorOperators.LSHR, 2 * l).reinterpretAsBytes();
                    acc = BlockDot.fma16(field.and((byte) 3).sub((byte) 1), x, xo + first + 32 * l, acc);
                }
            }
            total = acc.fma(FloatVector.broadcast(F, BlockBytes.f16(row, o + SCALE_OFFSET)), total);
        }
        return Lanes.sum(total);
    }
}
