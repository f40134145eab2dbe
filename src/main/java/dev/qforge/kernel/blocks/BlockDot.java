package dev.qforge.kernel.blocks;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Vector building blocks for the dot products of the 32-weight block formats. A block's 32 levels
 * arrive as two 16-lane byte vectors (one 128-bit load of 16 bytes: the whole qs of a 4-bit block, or
 * half of a Q8_0 block); each is widened to floats and multiplied with x in registers, so a block is
 * never written out as floats. Per-block sums stay in vector lanes and are scaled by the block's d
 * there, so there is one horizontal reduction per row, not per block.
 */
final class BlockDot {
    /** Float lanes: the machine's preferred width, capped at 16 so that one 16-byte load fills whole vectors. */
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.length() > 16
            ? FloatVector.SPECIES_512 : FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> S16 = ShortVector.SPECIES_256;
    /** How many float vectors 16 levels fill. */
    static final int PARTS = 16 / F.length();
    /** Lane i shifts a 16-bit mask right by i: picks bit i for weight i. */
    private static final ShortVector BIT_INDEX = ShortVector.broadcast(S16, (short) 0).addIndex(1);

    private BlockDot() {
    }

    static ByteVector load16(MemorySegment s, long off) {
        return ByteVector.fromMemorySegment(B16, s, off, ByteOrder.LITTLE_ENDIAN);
    }

    static ByteVector lowNibbles(ByteVector v) {
        return v.and((byte) 0x0F);
    }

    static ByteVector highNibbles(ByteVector v) {
        // shifted as 32-bit lanes, then masked: x86 has no byte shift, and the Vector API emulates a byte
        // LSHR by widening, which cost more than the rest of the block's work
        return v.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().and((byte) 0x0F);
    }

    /** 0x10 in lane i where bit i of bits16 is set: the fifth bit of the Q5 formats' levels. */
    static ByteVector fifthBits(int bits16) {
        return (ByteVector) ShortVector.broadcast(S16, (short) bits16)
                .lanewise(VectorOperators.LSHR, BIT_INDEX)
                .and((short) 1)
                .lanewise(VectorOperators.LSHL, 4)
                .convertShape(VectorOperators.S2B, B16, 0);
    }

    /**
     * dst[off .. off+16) = the 16 signed levels q times scale: a dequantizer's inner loop, each product
     * rounded once, as the scalar {@code level * scale} it replaces.
     */
    static void scaleInto(ByteVector q, float scale, float[] dst, int off) {
        for (int p = 0; p < PARTS; p++) {
            ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(scale).intoArray(dst, off + p * F.length());
        }
    }

    /** dst[off .. off+16) = scale · q − min, as the scalar {@code scale * level - min} (two roundings, no FMA). */
    static void scaleMinusInto(ByteVector q, float scale, float min, float[] dst, int off) {
        for (int p = 0; p < PARTS; p++) {
            ((FloatVector) q.convertShape(VectorOperators.B2F, F, p)).mul(scale).sub(min)
                    .intoArray(dst, off + p * F.length());
        }
    }

    /** acc + the 16 signed levels q times x[xOff .. xOff+16), lane-wise. */
    static FloatVector fma16(ByteVector q, float[] x, int xOff, FloatVector acc) {
        for (int p = 0; p < PARTS; p++) {
            FloatVector qf = (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
            acc = qf.fma(FloatVector.fromArray(F, x, xOff + p * F.length()), acc);
        }
        return acc;
    }

    /** acc + x[xOff .. xOff+n) lane-wise (n a multiple of 16): the Σx that a block's min multiplies. */
    static FloatVector sum(float[] x, int xOff, int n, FloatVector acc) {
        for (int i = 0; i < n; i += F.length()) {
            acc = acc.add(FloatVector.fromArray(F, x, xOff + i));
        }
        return acc;
    }

    static void checkX(float[] x, int xOff, int n) {
        if (xOff < 0 || xOff + n > x.length) {
            throw new IndexOutOfBoundsException("x[" + xOff + ", " + (xOff + n) + ") outside length " + x.length);
        }
    }
}
