package dev.qforge.kernel.blocks;

import dev.qforge.numeric.FloatBits;
import dev.qforge.numeric.Lanes;
import dev.qforge.numeric.LittleEndian;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockDot.F;

/** F16: IEEE half floats, block size 1; rounded to nearest even as ggml does; importance is ignored. */
public final class F16Format extends GgmlBlockFormat {
    public F16Format() {
        super(GgmlType.F16);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int count = blocks(n);
        for (int i = 0; i < count; i++) {
            dst.set(LittleEndian.I16, dstOffset + 2L * i, FloatBits.floatToF16(src[srcOff + i]));
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int count = blocks(n);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = FloatBits.f16ToFloat(src.get(LittleEndian.I16, srcOffset + 2L * i));
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        BlockDot.checkX(x, xOff, blocks(n));
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            acc = HalfFloats.f16(row, rowOffset + 2L * i).fma(FloatVector.fromArray(F, x, xOff + i), acc);
        }
        float sum = Lanes.sum(acc);
        for (; i < n; i++) {
            sum += FloatBits.f16ToFloat(row.get(LittleEndian.I16, rowOffset + 2L * i)) * x[xOff + i];
        }
        return sum;
    }
}
