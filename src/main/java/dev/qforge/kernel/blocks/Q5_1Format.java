package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.u32;
import static dev.qforge.kernel.blocks.BlockBytes.u8;
import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * Q5_1: blocks of 32 weights as 5-bit levels q in [0, 32) with an f16 scale and an f16 offset,
 * w = q·d + m (bytes: d, m, qh (u32 fifth bits), qs[16]).
 *
 * <p>Quantization as Q4_1 with 31 instead of 15: min/max reference without importance,
 * make_qkx3_quants with importance·sqrt(σ² + x²) weights with it (σ² per row: pass whole rows).
 */
public final class Q5_1Format extends GgmlBlockFormat implements ScaledLevels {
    private static final int QK = 32;

    public Q5_1Format() {
        super(GgmlType.Q5_1);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int nb = blocks(n);
        byte[] levels = new byte[QK];
        if (importance == null) {
            for (int b = 0; b < nb; b++) {
                quantizeBlockRef(src, srcOff + b * QK, levels, dst, dstOffset + (long) b * bytesPerBlock());
            }
            return;
        }
        float sigma2 = BlockBytes.meanSquare(src, srcOff, n);
        float[] weight = new float[QK];
        byte[] scratch = new byte[QK];
        float[] min = new float[1];
        for (int b = 0; b < nb; b++) {
            int x = srcOff + b * QK;
            long o = dstOffset + (long) b * bytesPerBlock();
            BlockBytes.importanceWeights(src, x, importance, b * QK, sigma2, weight, QK);
            float d = QuantMath.makeQkx3Quants(QK, 31, src, x, weight, 0, levels, 0, min, 0, scratch,
                    -0.9f, 0.05f, 36, false);
            putF16(dst, o, d);
            putF16(dst, o + 2, -min[0]);
            Q5_0Format.storeLevels5(dst, o + 4, o + 8, levels);
        }
    }

    private static void quantizeBlockRef(float[] src, int x, byte[] levels, MemorySegment dst, long o) {
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
        float d = (max - min) / ((1 << 5) - 1);
        float id = d != 0 ? 1.0f / d : 0.0f;
        putF16(dst, o, d);
        putF16(dst, o + 2, min);
        for (int j = 0; j < QK; j++) {
            // no clamp here in llama.cpp: (x - min)·id <= 31 up to rounding, and +0.5 truncates to <= 31
            levels[j] = (byte) (int) ((src[x + j] - min) * id + 0.5f);
        }
        Q5_0Format.storeLevels5(dst, o + 4, o + 8, levels);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int nb = blocks(n);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * bytesPerBlock();
            float d = f16(src, o);
            float m = f16(src, o + 2);
            int qh = u32(src, o + 4);
            int y = dstOff + b * QK;
            for (int j = 0; j < 16; j++) {
                int q = u8(src, o + 8 + j);
                int h0 = ((qh >>> j) << 4) & 0x10;
                int h1 = (qh >>> (j + 12)) & 0x10;
                dst[y + j] = ((q & 0x0F) | h0) * d + m;
                dst[y + j + 16] = ((q >>> 4) | h1) * d + m;
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
            int qh = u32(row, o + 4);
            ByteVector qs = BlockDot.load16(row, o + 8);
            ByteVector lo = BlockDot.lowNibbles(qs).or(BlockDot.fifthBits(qh));
            ByteVector hi = BlockDot.highNibbles(qs).or(BlockDot.fifthBits(qh >>> 16));
            FloatVector acc = BlockDot.fma16(lo, x, xo, FloatVector.zero(F));
            acc = BlockDot.fma16(hi, x, xo + 16, acc);
            total = acc.fma(FloatVector.broadcast(F, f16(row, o)), total);
            total = BlockDot.sum(x, xo, QK, FloatVector.zero(F)).fma(FloatVector.broadcast(F, f16(row, o + 2)), total);
        }
        return Lanes.sum(total);
    }

    private static final Shape SHAPE = new Shape(Shape.range(0, 31), QK, QK, true);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels the 5-bit q, factor 1, d. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        factor[0] = 1;
        int qh = u32(s, o + 4);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, o + 8 + j);
            level[j] = (byte) ((q & 0x0F) | (((qh >>> j) << 4) & 0x10));
            level[j + 16] = (byte) ((q >>> 4) | ((qh >>> (j + 12)) & 0x10));
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
