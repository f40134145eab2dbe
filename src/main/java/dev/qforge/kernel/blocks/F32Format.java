package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import dev.qforge.numeric.LittleEndian;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.qforge.kernel.blocks.BlockDot.F;

/** F32: little-endian IEEE floats, block size 1; lossless, so importance is ignored. */
public final class F32Format extends GgmlBlockFormat {
    public F32Format() {
        super(GgmlType.F32);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        MemorySegment.copy(src, srcOff, dst, LittleEndian.F32, dstOffset, blocks(n));
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        MemorySegment.copy(src, LittleEndian.F32, srcOffset, dst, dstOff, blocks(n));
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        BlockDot.checkX(x, xOff, blocks(n));
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector w = FloatVector.fromMemorySegment(F, row, rowOffset + 4L * i, ByteOrder.LITTLE_ENDIAN);
            acc = w.fma(FloatVector.fromArray(F, x, xOff + i), acc);
        }
        float sum = Lanes.sum(acc);
        for (; i < n; i++) {
            sum += row.get(LittleEndian.F32, rowOffset + 4L * i) * x[xOff + i];
        }
        return sum;
    }
}
