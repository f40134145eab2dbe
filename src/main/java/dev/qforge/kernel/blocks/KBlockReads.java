package dev.qforge.kernel.blocks;

import dev.qforge.tensor.FloatBits;
import dev.qforge.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Little-endian scalar reads straight from a row segment, for the dot products' per-block headers. */
final class KBlockReads {
    static final ValueLayout.OfLong I64 = Tensor.I64;
    static final ValueLayout.OfInt I32 = Tensor.I32;
    static final ValueLayout.OfShort I16 = Tensor.I16;
    static final ValueLayout.OfFloat F32 = Tensor.F32;
    static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    private KBlockReads() {
    }

    static float f16(MemorySegment seg, long off) {
        return FloatBits.f16ToFloat(seg.get(I16, off));
    }
}
