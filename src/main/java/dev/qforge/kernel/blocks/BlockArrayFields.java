package dev.qforge.kernel.blocks;

import dev.qforge.tensor.FloatBits;

/**
 * Little-endian field access on one block held in a {@code byte[]}: quantizers build a block there and
 * copy it out whole, dequantizers copy a block in and decode it, so the bit fiddling works on plain
 * array indices and the MemorySegment is touched once per block.
 */
final class BlockArrayFields {
    private BlockArrayFields() {
    }

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
