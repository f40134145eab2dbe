package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

/**
 * llama.cpp's ternary formats (TQ1_0, TQ2_0): blocks of 256 weights, each −d, 0 or +d, with d the block's
 * largest magnitude as f16; the two differ only in how the 256 trits are packed ({@link #pack}, {@link #unpack}).
 * Quantizing rounds w/d to the nearest of −1, 0, 1 (halves away from zero, as C's {@code lroundf}); llama.cpp
 * ignores importance for these types, and so does this. The level grid lets GPTQ round onto the trits. Each
 * format's dot product decodes its packing in vector registers; single-token decode runs on the
 * {@link ScaledLevelsInterleaved} layout (2-bit codes, two columns per lookup of {@link PairTables}).
 */
abstract sealed class TernaryFormat extends GgmlBlockFormat implements LevelGrid, ScaledLevels permits TQ1_0Format, TQ2_0Format {
    static final int QK = 256;
    private static final float[] CODEBOOK = {-1, 0, 1};
    private static final ThreadLocal<byte[]> TRITS = ThreadLocal.withInitial(() -> new byte[QK]);

    TernaryFormat(GgmlType type) {
        super(type);
    }

    /** Writes the block's 256 trits t[off + i] ∈ {0, 1, 2} (level + 1) into its bytes at o, the scale untouched. */
    abstract void pack(int[] t, int off, MemorySegment dst, long o);

    /** Reads the block's 256 levels (−1, 0, 1) into t[0 .. 256). */
    abstract void unpack(MemorySegment src, long o, byte[] t);

    /** Byte offset of the f16 scale within the block. */
    abstract int scaleOffset();

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int[] t = new int[QK];
        for (int b = 0; b < blocks(n); b++) {
            int x = srcOff + b * QK;
            long o = dstOffset + (long) b * bytesPerBlock();
            float amax = 0;
            for (int j = 0; j < QK; j++) {
                amax = Math.max(amax, Math.abs(src[x + j]));
            }
            float id = amax != 0 ? 1.0f / amax : 0.0f;
            for (int j = 0; j < QK; j++) {
                t[j] = roundHalfAway(src[x + j] * id) + 1;
            }
            pack(t, 0, dst, o);
            BlockBytes.putF16(dst, o + scaleOffset(), amax);
        }
    }

    /** C's lroundf: halves go away from zero (Java's Math.round sends −0.5 to 0). */
    private static int roundHalfAway(float v) {
        return v < 0 ? -Math.round(-v) : Math.round(v);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        byte[] t = TRITS.get();
        for (int b = 0; b < blocks(n); b++) {
            long o = srcOffset + (long) b * bytesPerBlock();
            float d = BlockBytes.f16(src, o + scaleOffset());
            unpack(src, o, t);
            for (int j = 0; j < QK; j++) {
                dst[dstOff + b * QK + j] = t[j] * d;
            }
        }
    }

    @Override
    public LevelGrid levelGrid() {
        return this;
    }

    @Override
    public float[] codebook() {
        return CODEBOOK;
    }

    @Override
    public boolean uniform() {
        return true;
    }

    @Override
    public void grid(MemorySegment row, long rowOffset, int n, float[] scale, float[] offset) {
        for (int b = 0; b < blocks(n); b++) {
            LevelGrids.fill(scale, offset, b * QK, QK, BlockBytes.f16(row, rowOffset + (long) b * bytesPerBlock() + scaleOffset()), 0f);
        }
    }

    @Override
    public void setLevels(MemorySegment row, long rowOffset, int n, int[] levels, int levelsOff) {
        // the codebook's level k is the trit k (−1, 0, 1 ↔ 0, 1, 2)
        for (int b = 0; b < blocks(n); b++) {
            pack(levels, levelsOff + b * QK, row, rowOffset + (long) b * bytesPerBlock());
        }
    }

    /** TQ1_0's base-3 digits are 0-2 by construction; TQ2_0 declares its fourth field too. */
    private static final Shape SHAPE = new Shape(new byte[] {-1, 0, 1}, 0, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        unpack(s, o, level);
        return BlockBytes.f16(s, o + scaleOffset());
    }
}
