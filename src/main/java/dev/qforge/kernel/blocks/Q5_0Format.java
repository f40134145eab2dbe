package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.putU32;
import static dev.qforge.kernel.blocks.BlockBytes.putU8;
import static dev.qforge.kernel.blocks.BlockBytes.u32;
import static dev.qforge.kernel.blocks.BlockBytes.u8;
import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * Q5_0: blocks of 32 weights as 5-bit levels q in [0, 32) with one f16 scale, w = (q - 16)·d (bytes: d,
 * qh (u32: bit j is the fifth bit of weight j), qs[16] with the low four bits as in Q4_0).
 *
 * <p>Quantization as Q4_0 with 16 instead of 8: reference absmax without importance, make_qx_quants
 * with importance·sqrt(σ² + x²) weights with it (σ² per row: pass whole rows).
 */
public final class Q5_0Format extends GgmlBlockFormat implements ScaledLevels {
    private static final int QK = 32;

    public Q5_0Format() {
        super(GgmlType.Q5_0);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int nb = blocks(n);
        byte[] levels = new byte[QK];
        if (importance == null) {
            for (int b = 0; b < nb; b++) {
                float d = referenceLevels(src, srcOff + b * QK, levels);
                store(dst, dstOffset + (long) b * bytesPerBlock(), d, levels);
            }
            return;
        }
        float sigma2 = BlockBytes.meanSquare(src, srcOff, n);
        float[] weight = new float[QK];
        for (int b = 0; b < nb; b++) {
            int x = srcOff + b * QK;
            BlockBytes.importanceWeights(src, x, importance, b * QK, sigma2, weight, QK);
            float d = QuantMath.makeQxQuants(QK, 16, src, x, levels, 0, 1, weight, 0);
            store(dst, dstOffset + (long) b * bytesPerBlock(), d, levels);
        }
    }

    private static float referenceLevels(float[] src, int x, byte[] levels) {
        float amax = 0;
        float max = 0;
        for (int j = 0; j < QK; j++) {
            float v = src[x + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -16;
        float id = d != 0 ? 1.0f / d : 0.0f;
        for (int j = 0; j < QK; j++) {
            levels[j] = (byte) Math.min(31, (int) (src[x + j] * id + 16.5f));
        }
        return d;
    }

    /** d, then the fifth bits gathered into qh, then the low nibbles. */
    static void storeLevels5(MemorySegment dst, long qhOff, long qsOff, byte[] levels) {
        int qh = 0;
        for (int j = 0; j < 16; j++) {
            int q0 = levels[j];
            int q1 = levels[j + 16];
            putU8(dst, qsOff + j, (q0 & 0x0F) | ((q1 & 0x0F) << 4));
            qh |= ((q0 & 0x10) >>> 4) << j;
            qh |= ((q1 & 0x10) >>> 4) << (j + 16);
        }
        putU32(dst, qhOff, qh);
    }

    private static void store(MemorySegment dst, long o, float d, byte[] levels) {
        putF16(dst, o, d);
        storeLevels5(dst, o + 2, o + 6, levels);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int nb = blocks(n);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * bytesPerBlock();
            float d = f16(src, o);
            int qh = u32(src, o + 2);
            int y = dstOff + b * QK;
            for (int j = 0; j < 16; j++) {
                int q = u8(src, o + 6 + j);
                int h0 = ((qh >>> j) << 4) & 0x10;
                int h1 = (qh >>> (j + 12)) & 0x10;
                dst[y + j] = (((q & 0x0F) | h0) - 16) * d;
                dst[y + j + 16] = (((q >>> 4) | h1) - 16) * d;
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
            int qh = u32(row, o + 2);
            ByteVector qs = BlockDot.load16(row, o + 6);
            ByteVector lo = BlockDot.lowNibbles(qs).or(BlockDot.fifthBits(qh)).sub((byte) 16);
            ByteVector hi = BlockDot.highNibbles(qs).or(BlockDot.fifthBits(qh >>> 16)).sub((byte) 16);
            FloatVector acc = BlockDot.fma16(lo, x, xo, FloatVector.zero(F));
            acc = BlockDot.fma16(hi, x, xo + 16, acc);
            total = acc.fma(FloatVector.broadcast(F, f16(row, o)), total);
        }
        return Lanes.sum(total);
    }

    private static final Shape SHAPE = new Shape(Shape.range(-16, 15), 0, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels the 5-bit q − 16, d. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        int qh = u32(s, o + 2);
        for (int j = 0; j < 16; j++) {
            int q = u8(s, o + 6 + j);
            level[j] = (byte) (((q & 0x0F) | (((qh >>> j) << 4) & 0x10)) - 16);
            level[j + 16] = (byte) (((q >>> 4) | ((qh >>> (j + 12)) & 0x10)) - 16);
        }
        return f16(s, o);
    }
}
