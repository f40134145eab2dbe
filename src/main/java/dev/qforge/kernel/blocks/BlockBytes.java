package dev.qforge.kernel.blocks;

import dev.qforge.numeric.FloatBits;
import dev.qforge.numeric.LittleEndian;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Little-endian reads and writes of the fields that ggml blocks are made of, in a MemorySegment or in a
 * {@code byte[]} holding one block (the K-quant quantizers build a block there and copy it out whole,
 * and their dequantizers copy a block in, so the bit fiddling works on plain array indices).
 */
final class BlockBytes {
    private BlockBytes() {
    }

    static float f16(MemorySegment s, long off) {
        return FloatBits.f16ToFloat(s.get(LittleEndian.I16, off));
    }

    /** Stores v as an IEEE half, rounding to nearest even as ggml's GGML_FP32_TO_FP16 does. */
    static void putF16(MemorySegment s, long off, float v) {
        s.set(LittleEndian.I16, off, FloatBits.floatToF16(v));
    }

    static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    static void putU8(MemorySegment s, long off, int v) {
        s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
    }

    static int u16(MemorySegment s, long off) {
        return s.get(LittleEndian.I16, off) & 0xFFFF;
    }

    static void putU16(MemorySegment s, long off, int v) {
        s.set(LittleEndian.I16, off, (short) v);
    }

    static int u32(MemorySegment s, long off) {
        return s.get(LittleEndian.I32, off);
    }

    static void putU32(MemorySegment s, long off, int v) {
        s.set(LittleEndian.I32, off, v);
    }

    /** ggml's sigma2 for importance-weighted quantization: the mean square of the row. */
    static float meanSquare(float[] x, int off, int n) {
        float sum = 0;
        for (int j = 0; j < n; ++j) {
            sum += x[off + j] * x[off + j];
        }
        return sum / n;
    }

    /**
     * The importance-scaled weights ggml's legacy quantizers use: qw[j] * sqrt(sigma2 + x[j]²), so a
     * column's imatrix value matters more for the larger weights of the row.
     */
    static void importanceWeights(float[] x, int xOff, float[] qw, int qwOff, float sigma2, float[] out, int n) {
        for (int j = 0; j < n; ++j) {
            float xj = x[xOff + j];
            out[j] = qw[qwOff + j] * (float) Math.sqrt(sigma2 + xj * xj);
        }
    }

    // one block in a byte[]

    static int u8(byte[] b, int off) {
        return b[off] & 0xFF;
    }

    /** The F16 at off as a float (exact: every F16 is a float). */
    static float f16(byte[] b, int off) {
        return FloatBits.f16ToFloat((short) ((b[off] & 0xFF) | (b[off + 1] << 8)));
    }

    /** Stores v as F16 rounded to nearest even, as GGML_FP32_TO_FP16 does on every build. */
    static void putF16(byte[] b, int off, float v) {
        short h = FloatBits.floatToF16(v);
        b[off] = (byte) h;
        b[off + 1] = (byte) (h >> 8);
    }

    static float f32(byte[] b, int off) {
        return Float.intBitsToFloat(i32(b, off));
    }

    static void putF32(byte[] b, int off, float v) {
        int bits = Float.floatToRawIntBits(v);
        b[off] = (byte) bits;
        b[off + 1] = (byte) (bits >> 8);
        b[off + 2] = (byte) (bits >> 16);
        b[off + 3] = (byte) (bits >> 24);
    }

    static int i32(byte[] b, int off) {
        return (b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8 | (b[off + 2] & 0xFF) << 16 | (b[off + 3] & 0xFF) << 24;
    }

    static long i64(byte[] b, int off) {
        return (i32(b, off) & 0xFFFFFFFFL) | (long) i32(b, off + 4) << 32;
    }

    static short i16(byte[] b, int off) {
        return (short) ((b[off] & 0xFF) | (b[off + 1] << 8));
    }

    static void putI16(byte[] b, int off, int v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >> 8);
    }
}
