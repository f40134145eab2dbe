package dev.qforge.kernel.blocks;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The vector shapes of the K-quant dot products: F floats per vector and a byte vector with as many
 * lanes, so that F quant bytes widen to exactly one float vector. F is the machine's preferred width
 * kept within 8..16 lanes: K-quant sub-blocks are 16 or 32 weights, so a vector never straddles two
 * scales, and byte vectors narrower than 64 bits do not exist.
 */
final class KVectors {
    static final VectorSpecies<Float> FS = VectorSpecies.of(float.class,
            VectorShape.forBitSize(32 * lanes()));
    static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * lanes()));
    static final int L = FS.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private KVectors() {
    }

    private static int lanes() {
        return Math.max(8, Math.min(16, FloatVector.SPECIES_PREFERRED.length()));
    }

    /** L quant bytes at off. */
    static ByteVector bytes(MemorySegment seg, long off) {
        return ByteVector.fromMemorySegment(BS, seg, off, LE);
    }

    /** Byte lanes (signed) widened to floats. */
    static FloatVector toFloats(ByteVector b) {
        return (FloatVector) b.convertShape(VectorOperators.B2F, FS, 0);
    }
}
