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
 * Q4_1: blocks of 32 weights as 4-bit levels q in [0, 16) with an f16 scale and an f16 offset,
 * w = q·d + m (bytes: d, m, qs[16]; nibbles as in Q4_0).
 *
 * <p>Without importance: llama.cpp's reference, m = min, d = (max - min) / 15. With importance:
 * make_qkx3_quants (weighted least-squares fit of d and m over 37 stretched grids) with weights
 * importance·sqrt(σ² + x²), σ² the mean square of the row passed in (pass whole rows).
 */
public final class Q4_1Format extends GgmlBlockFormat implements ScaledLevels {
    private static final int QK = 32;

    public Q4_1Format() {
        super(GgmlType.Q4_1);
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
        byte[] scratch = new byte[QK];
        float[] min = new float[1];
        for (int b = 0; b < nb; b++) {
            int x = srcOff + b * QK;
            long o = dstOffset + (long) b * bytesPerBlock();
            BlockBytes.importanceWeights(src, x, importance, b * QK, sigma2, weight, QK);
            float d = QuantMath.makeQkx3Quants(QK, 15, src, x, weight, 0, levels, 0, min, 0, scratch,
                    -0.9f, 0.05f, 36, false);
            putF16(dst, o, d);
            putF16(dst, o + 2, -min[0]);
            for (int j = 0; j < 16; j++) {
                putU8(dst, o + 4 + j, levels[j] | (levels[j + 16] << 4));
            }
        }
    }

    private static void quantizeBlockRef(float[] src, int x, MemorySegment dst, long o) {
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (int j = 0; j < QK; j++) {
            float v = src[x + j];
            if (v < min) {
                min = v;
            }
            if (v > max) {
                max = v;
            }
        }
        float d = (max - min) / ((1 << 4) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        putF16(dst, o, d);
        putF16(dst, o + 2, min);
        for (int j = 0; j < 16; j++) {
            int q0 = Math.min(15, (int) ((src[x + j] - min) * id + 0.5f));
            int q1 = Math.min(15, (int) ((src[x + 16 + j] - min) * id + 0.5f));
            putU8(dst, o + 4 + j, q0 | (q1 << 4));
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int nb = blocks(n);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * bytesPerBlock();
            float d = f16(src, o);
            float m = f16(src, o + 2);
            int y = dstOff + b * QK;
            for (int j = 0; j < 16; j++) {
                int q = u8(src, o + 4 + j);
                // two roundings, no FMA: ggml-base is compiled without FMA
                dst[y + j] = (q & 0x0F) * d + m;
                dst[y + j + 16] = (q >>> 4) * d + m;
            }
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
            ByteVector qs = BlockDot.load16(row, o + 4);
            FloatVector acc = BlockDot.fma16(BlockDot.lowNibbles(qs), x, xo, FloatVector.zero(F));
            acc = BlockDot.fma16(BlockDot.highNibbles(qs), x, xo + 16, acc);
            // Σ (q·d + m)·x = d·Σ q·x + m·Σ x
            total = acc.fma(FloatVector.broadcast(F, f16(row, o)), total);
            total = BlockDot.sum(x, xo, QK, FloatVector.zero(F)).fma(FloatVector.broadcast(F, f16(row, o + 2)), total);
        }
        return Lanes.sum(total);
    }

    private static final Shape SHAPE = new Shape(Shape.range(0, 15), QK, QK, true);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels the 4-bit q, factor 1, d. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        factor[0] = 1;
        for (int j = 0; j < 16; j++) {
            int q = u8(s, o + 4 + j);
            level[j] = (byte) (q & 0x0F);
            level[j + 16] = (byte) (q >>> 4);
        }
        return f16(s, o);
    }

    /** One offset of 1 per block, with −m as its dmin: w = d·q − (−m)·1. */
    @Override
    public float unpackOffsets(MemorySegment s, long o, byte[] offset) {
        offset[0] = 1;
        return -f16(s, o + 2);
    }
}
