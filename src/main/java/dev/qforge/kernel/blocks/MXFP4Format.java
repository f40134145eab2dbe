package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

/**
 * MXFP4 (OCP microscaling FP4, ggml's block): 32 weights as 4-bit E2M1 codes (sign, 2-bit exponent, 1-bit
 * mantissa: ±0, 0.5, 1, 1.5, 2, 3, 4, 6) sharing one E8M0 scale byte e (a power of two, 2^(e − 127)). Bytes: e,
 * then qs[16] with weight j in the low nibble of byte j and weight j + 16 in the high one (as Q4_0).
 *
 * <p>Quantizing follows ggml's reference: e is chosen so that the block's largest magnitude lands in the top
 * binade of the codes (floor(log2 amax) − 2 + 127), then each weight takes the nearest code, the first of equals
 * on ties. ggml keeps its code values doubled (0, 1, 2, 3, 4, 6, 8, 12) against a halved scale 2^(e − 128);
 * that is the same product, and the table here is in those units. Importance is ignored, as ggml does.
 */
final class MXFP4Format extends GgmlBlockFormat implements LevelGrid, ScaledLevels {
    private static final int QK = 32;
    /** The 16 codes, doubled: bit 3 is the sign, bits 0–2 index 0, 1, 2, 3, 4, 6, 8, 12. */
    private static final float[] CODES = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

    MXFP4Format() {
        super(GgmlType.MXFP4);
    }

    /** 2^(e − 128): the scale of the doubled codes (subnormal for e < 2, as ggml builds it from bits). */
    static float halfScale(int e) {
        return Math.scalb(1.0f, e - 128);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        for (int b = 0; b < blocks(n); b++) {
            int x = srcOff + b * QK;
            long o = dstOffset + (long) b * bytesPerBlock();
            float amax = 0;
            for (int j = 0; j < QK; j++) {
                amax = Math.max(amax, Math.abs(src[x + j]));
            }
            // C's (uint8_t)(floorf(log2f(amax)) − 2 + 127); log2 in double rounded to float is log2f's value
            int e = amax > 0 ? ((int) (Math.floor((float) (Math.log(amax) / Math.log(2))) - 2 + 127)) & 0xFF : 0;
            float d = halfScale(e);
            BlockBytes.putU8(dst, o, e);
            for (int j = 0; j < QK / 2; j++) {
                int lo = nearest(src[x + j], d, 0);
                int hi = nearest(src[x + j + QK / 2], d, 0);
                BlockBytes.putU8(dst, o + 1 + j, lo | hi << 4);
            }
        }
    }

    @Override
    public int nearest(float w, float scale, float offset) {
        int best = 0;
        float bestErr = Math.abs(CODES[0] * scale + offset - w);
        for (int k = 1; k < CODES.length; k++) {
            float err = Math.abs(CODES[k] * scale + offset - w);
            if (err < bestErr) {
                bestErr = err;
                best = k;
            }
        }
        return best;
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        for (int b = 0; b < blocks(n); b++) {
            long o = srcOffset + (long) b * bytesPerBlock();
            float d = halfScale(BlockBytes.u8(src, o));
            int y = dstOff + b * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = BlockBytes.u8(src, o + 1 + j);
                dst[y + j] = CODES[q & 0xF] * d;
                dst[y + j + QK / 2] = CODES[q >>> 4] * d;
            }
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        BlockDot.checkX(x, xOff, n);
        float total = 0;
        for (int b = 0; b < blocks(n); b++) {
            long o = rowOffset + (long) b * bytesPerBlock();
            int xo = xOff + b * QK;
            float sum = 0;
            for (int j = 0; j < QK / 2; j++) {
                int q = BlockBytes.u8(row, o + 1 + j);
                sum += CODES[q & 0xF] * x[xo + j] + CODES[q >>> 4] * x[xo + j + QK / 2];
            }
            total += sum * halfScale(BlockBytes.u8(row, o));
        }
        return total;
    }

    @Override
    public LevelGrid levelGrid() {
        return this;
    }

    @Override
    public float[] codebook() {
        return CODES;
    }

    @Override
    public boolean uniform() {
        return false;
    }

    @Override
    public void grid(MemorySegment row, long rowOffset, int n, float[] scale, float[] offset) {
        for (int b = 0; b < blocks(n); b++) {
            LevelGrids.fill(scale, offset, b * QK, QK, halfScale(BlockBytes.u8(row, rowOffset + (long) b * bytesPerBlock())), 0f);
        }
    }

    @Override
    public void setLevels(MemorySegment row, long rowOffset, int n, int[] levels, int levelsOff) {
        for (int b = 0; b < blocks(n); b++) {
            LevelGrids.setNibbles(row, rowOffset + (long) b * bytesPerBlock() + 1, levels, levelsOff + b * QK);
        }
    }

    /** The E2M1 values doubled, as bytes: CODES themselves. */
    private static final Shape SHAPE = new Shape(levelsOf(CODES), 0, QK, false);

    private static byte[] levelsOf(float[] codes) {
        byte[] levels = new byte[codes.length];
        for (int i = 0; i < codes.length; i++) {
            levels[i] = (byte) codes[i];
        }
        return levels;
    }

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels the E2M1 values doubled (0, ±1 … ±12), d the E8M0 scale halved, as ggml dequantizes them. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int j = 0; j < QK / 2; j++) {
            int q = BlockBytes.u8(s, o + 1 + j);
            level[j] = (byte) CODES[q & 0xF];
            level[j + QK / 2] = (byte) CODES[q >>> 4];
        }
        return halfScale(BlockBytes.u8(s, o));
    }
}
