package dev.qforge.kernel.blocks;

import dev.qforge.numeric.FloatBits;
import dev.qforge.numeric.Lanes;
import dev.qforge.numeric.LittleEndian;
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
 * BF16: the top 16 bits of a float, block size 1. Quantize rounds to nearest even and keeps NaNs NaN
 * (quiet bit forced), exactly as ggml's ggml_fp32_to_bf16 does; importance is ignored.
 */
public final class BF16Format extends GgmlBlockFormat {
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));

    public BF16Format() {
        super(GgmlType.BF16);
    }

    /** In vector lanes (a prefill rounds every activation this way), bit-identical to {@link FloatBits#floatToBf16}. */
    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int count = blocks(n);
        int i = 0;
        IntVector one = IntVector.broadcast(I, 1);
        for (int bound = F.loopBound(count); i < bound; i += F.length()) {
            IntVector bits = FloatVector.fromArray(F, src, srcOff + i).reinterpretAsInts();
            IntVector rounded = bits.add(bits.lanewise(VectorOperators.LSHR, 16).and(one)).add(0x7FFF);
            VectorMask<Integer> nan = bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000);
            IntVector top = rounded.lanewise(VectorOperators.LSHR, 16)
                    .blend(bits.lanewise(VectorOperators.LSHR, 16).or(0x40), nan);
            ((ShortVector) top.castShape(S, 0)).intoMemorySegment(dst, dstOffset + 2L * i, ByteOrder.LITTLE_ENDIAN);
        }
        for (; i < count; i++) {
            dst.set(LittleEndian.I16, dstOffset + 2L * i, FloatBits.floatToBf16(src[srcOff + i]));
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int count = blocks(n);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = FloatBits.bf16ToFloat(src.get(LittleEndian.I16, srcOffset + 2L * i));
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        BlockDot.checkX(x, xOff, blocks(n));
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = HalfFloats.bf16(row, rowOffset + 2L * i).fma(FloatVector.fromArray(F, x, xOff + i), acc);
        }
        float sum = Lanes.sum(acc);
        for (; i < n; i++) {
            sum += FloatBits.bf16ToFloat(row.get(LittleEndian.I16, rowOffset + 2L * i)) * x[xOff + i];
        }
        return sum;
    }
}
