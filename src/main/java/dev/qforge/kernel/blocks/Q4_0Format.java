package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.putU8;
import static dev.qforge.kernel.blocks.BlockBytes.u8;
import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * Q4_0: blocks of 32 weights as 4-bit levels q in [0, 16) with one f16 scale, w = (q - 8)·d (bytes: d,
 * qs[16]; byte j holds weight j in its low nibble and weight j+16 in its high one).
 *
 * <p>Without importance this is llama.cpp's reference quantizer: the largest-magnitude weight maps to
 * level -8 exactly. With importance it is llama.cpp's search (make_qx_quants, weighted least squares
 * over 19 candidate scales) with weights importance·sqrt(σ² + x²), σ² the row's mean square: pass one
 * whole row per call then, as ggml computes σ² per row.
 */
public final class Q4_0Format extends GgmlBlockFormat {
    private static final int QK = 32;

    public Q4_0Format() {
        super(GgmlType.Q4_0, new Q4_0Interleaved());
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int nb = blocks(n);
        if (importance == null) {
            for (int b = 0; b < nb; b++) {
                quantizeBlockRef(src, srcOff + b * QK, dst, dstOffset + (long) b * bytesPerBlock());
            }
            return;
        }
        float sigma2 = BlockBytes.meanSquare(src, srcOff, n);
        float[] weight = new float[QK];
        byte[] levels = new byte[QK];
        for (int b = 0; b < nb; b++) {
            int x = srcOff + b * QK;
            long o = dstOffset + (long) b * bytesPerBlock();
            BlockBytes.importanceWeights(src, x, importance, b * QK, sigma2, weight, QK);
            float d = QuantMath.makeQxQuants(QK, 8, src, x, levels, 0, 1, weight, 0);
            putF16(dst, o, d);
            for (int j = 0; j < 16; j++) {
                putU8(dst, o + 2 + j, levels[j] | (levels[j + 16] << 4));
            }
        }
    }

    private static void quantizeBlockRef(float[] src, int x, MemorySegment dst, long o) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < QK; j++) {
            float v = src[x + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8; // an all-zero block stores -0.0, as llama.cpp does
        float id = d != 0 ? 1.0f / d : 0.0f;
        putF16(dst, o, d);
        for (int j = 0; j < 16; j++) {
            // C truncates (int8_t)(x + 8.5f): round half up on levels that are >= -0.5 after the shift
            int q0 = Math.min(15, (int) (src[x + j] * id + 8.5f));
            int q1 = Math.min(15, (int) (src[x + 16 + j] * id + 8.5f));
            putU8(dst, o + 2 + j, q0 | (q1 << 4));
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int nb = blocks(n);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * bytesPerBlock();
            float d = f16(src, o);
            int y = dstOff + b * QK;
            ByteVector qs = BlockDot.load16(src, o + 2);
            BlockDot.scaleInto(BlockDot.lowNibbles(qs).sub((byte) 8), d, dst, y);
            BlockDot.scaleInto(BlockDot.highNibbles(qs).sub((byte) 8), d, dst, y + 16);
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
            ByteVector qs = BlockDot.load16(row, o + 2);
            FloatVector acc = BlockDot.fma16(BlockDot.lowNibbles(qs).sub((byte) 8), x, xo, FloatVector.zero(F));
            acc = BlockDot.fma16(BlockDot.highNibbles(qs).sub((byte) 8), x, xo + 16, acc);
            total = acc.fma(FloatVector.broadcast(F, f16(row, o)), total);
        }
        return Lanes.sum(total);
    }

    @Override
    public LevelGrid levelGrid() {
        return LevelGrids.Q4_0;
    }
}
