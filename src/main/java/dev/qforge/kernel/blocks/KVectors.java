package dev.qforge.kernel.blocks;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.nio.ByteOrder;

/**
 * The vector shapes of the K-quant dot products: F floats per vector and a byte vector with as many
 * lanes, so that F quant bytes widen to exactly one float vector. F is the machine's preferred width
 * kept within 8..16 lanes: K-quant sub-blocks are 16 or 32 weights, so a vector never straddles two
 * scales, and byte vectors narrower than 64 bits do not exist.
 *
 * <p>Each format's dot keeps its vectors inside one method per super-block that returns a float: a
 * vector passed to or returned from a call C2 declines to inline is boxed on the heap (Q4_K ran at half
 * speed with a helper per 64 weights taking and returning the accumulator).
 */
final class KVectors {
    static final VectorSpecies<Float> FS = VectorSpecies.of(float.class,
            VectorShape.forBitSize(32 * lanes()));
    static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * lanes()));
    static final int L = FS.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private KVectors() {
    }

    /**
     * Each byte's bits moved by k places (left for k > 0, right for k < 0) with 32-bit lane shifts: bits
     * cross into neighbouring bytes, so callers mask the result. x86 has no byte shift; a lanewise byte
     * shift is emulated by widening and costs several times this.
     */
    static ByteVector shiftBits(ByteVector v, int k) {
        if (k == 0) {
            return v;
        }
        return k > 0 ? v.reinterpretAsInts().lanewise(VectorOperators.LSHL, k).reinterpretAsBytes()
                : v.reinterpretAsInts().lanewise(VectorOperators.LSHR, -k).reinterpretAsBytes();
    }

    private static int lanes() {
        return Math.max(8, Math.min(16, FloatVector.SPECIES_PREFERRED.length()));
    }
}
