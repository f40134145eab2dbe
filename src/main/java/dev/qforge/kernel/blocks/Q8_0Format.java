package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * Q8_0: blocks of 32 signed bytes with one f16 scale, d = max|x| / 127 (bytes: d, qs[32]). The scale is
 * plain absmax, so llama.cpp ignores importance for this format, and so does this one.
 */
public final class Q8_0Format extends GgmlBlockFormat {
    private static final int QK = 32;

    public Q8_0Format() {
        super(GgmlType.Q8_0, new Q8_0Interleaved());
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int nb = blocks(n);
        for (int b = 0; b < nb; b++) {
            int x = srcOff + b * QK;
            long o = dstOffset + (long) b * bytesPerBlock();
            float amax = 0;
            for (int j = 0; j < QK; j++) {
                float a = Math.abs(src[x + j]);
                amax = amax > a ? amax : a; // C's MAX macro
            }
            float d = amax / ((1 << 7) - 1);
            float id = d != 0 ? 1.0f / d : 0.0f;
            putF16(dst, o, d);
            for (int j = 0; j < QK; j++) {
                dst.set(ValueLayout.JAVA_BYTE, o + 2 + j, (byte) roundHalfAway(src[x + j] * id));
            }
        }
    }

    /** C's roundf: halves away from zero (Math.round would send -2.5 to -2). Exact in double. */
    static int roundHalfAway(float v) {
        double a = Math.floor(Math.abs((double) v) + 0.5);
        return (int) (v < 0 ? -a : a);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int nb = blocks(n);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * bytesPerBlock();
            float d = f16(src, o);
            BlockDot.scaleInto(BlockDot.load16(src, o + 2), d, dst, dstOff + b * QK);
            BlockDot.scaleInto(BlockDot.load16(src, o + 18), d, dst, dstOff + b * QK + 16);
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        int nb = blocks(n);
        BlockDot.checkX(x, xOff, n);
        FloatVector total = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = rowOffset + (long) b * bytesPerBlock();
            int xo = xOff + b * QK;
            FloatVector acc = BlockDot.fma16(BlockDot.load16(row, o + 2), x, xo, FloatVector.zero(F));
            acc = BlockDot.fma16(BlockDot.load16(row, o + 18), x, xo + 16, acc);
            total = acc.fma(FloatVector.broadcast(F, f16(row, o)), total);
        }
        return Lanes.sum(total);
    }

    @Override
    public LevelGrid levelGrid() {
        return LevelGrids.Q8_0;
    }
}
