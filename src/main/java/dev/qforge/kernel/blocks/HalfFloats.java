package dev.qforge.kernel.blocks;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * Widening 16-bit floats (f16 and bf16) to float lanes in registers, for the F16 and BF16 dot products:
 * load as many shorts as there are float lanes, zero-extend to ints, then rebuild the float bits.
 */
final class HalfFloats {
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.length() * 16));
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    /** 2^112: moves an f16 exponent (bias 15), placed in float position, to float bias 127; exact for subnormals too. */
    private static final float F16_EXPONENT_SHIFT = 0x1p112f;

    private HalfFloats() {
    }

    private static IntVector load(MemorySegment s, long off) {
        return (IntVector) ShortVector.fromMemorySegment(S, s, off, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.ZERO_EXTEND_S2I, I, 0);
    }

    /** bf16 is the top half of a float. */
    static FloatVector bf16(MemorySegment s, long off) {
        return load(s, off).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * f16 → float: shift exponent and mantissa into float position and scale by 2^112 (which also
     * normalizes subnormals exactly); infinities and NaNs, whose exponent is all ones, get the float
     * all-ones exponent instead (NaNs quieted); the sign is put back last.
     */
    static FloatVector f16(MemorySegment s, long off) {
        IntVector h = load(s, off);
        IntVector magnitude = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        FloatVector scaled = magnitude.reinterpretAsFloats().mul(F16_EXPONENT_SHIFT);
        VectorMask<Integer> special = h.and(0x7C00).compare(VectorOperators.EQ, 0x7C00);
        VectorMask<Integer> nan = special.and(h.and(0x03FF).compare(VectorOperators.NE, 0));
        IntVector bits = scaled.reinterpretAsInts().blend(magnitude.or(0x7F800000), special)
                .blend(magnitude.or(0x7FC00000), nan); // NaNs come out quiet, as Float.float16ToFloat gives them
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }
}
