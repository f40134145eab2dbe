package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Q4_0's decode layout. Per block column b (32 columns) of a group: the 32 rows' levels as
 * {@link InterleavedLanes} nibbles (512 bytes), then their f16 scales d ({@link F16Rebiased}; 64 bytes): 576 bytes
 * per 32×32 weights, Q4_0's own 4.5 bits per weight. (Scales widened to f32 cost 11 % more bytes; keeping f16 and
 * converting in the kernel streamed 14 % faster.)
 *
 * <p>Row j's dot with x is Σ_b d_j·d_x(b)·Σ_i (q − 8)·x_q.
 */
final class Q4_0Interleaved implements InterleavedLayout {
    private static final int BLOCK = 32;
    private static final int SOURCE_BLOCK_BYTES = 18;
    /** Levels first, then the scales: the order the kernel reads them. */
    private static final int SCALES = InterleavedLanes.NIBBLE_BYTES;
    private static final long BLOCK_BYTES = SCALES + 2 * ROWS;

    @Override
    public long groupBytes(int cols) {
        return cols / BLOCK * BLOCK_BYTES;
    }

    /** Scales {@link F16Rebiased}: every block's d below 128 in magnitude. */
    @Override
    public boolean holds(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols) {
        return F16Rebiased.blockScalesFit(src, srcOffset, rowBytes, rows, cols / BLOCK, SOURCE_BLOCK_BYTES, 1);
    }

    @Override
    public void pack(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols, MemorySegment dst,
                     long dstOffset) {
        int[] levels = new int[BLOCK];
        for (int j = 0; j < rows; j++) {
            for (int b = 0; b < cols / BLOCK; b++) {
                long s = srcOffset + j * rowBytes + (long) b * SOURCE_BLOCK_BYTES;
                long d = dstOffset + b * BLOCK_BYTES;
                BlockBytes.putU16(dst, d + SCALES + 2L * j, F16Rebiased.of(BlockBytes.u16(src, s)));
                for (int i = 0; i < 16; i++) {
                    int q = BlockBytes.u8(src, s + 2 + i);
                    levels[i] = q & 0xF;
                    levels[i + 16] = q >>> 4;
                }
                InterleavedLanes.put(levels, dst, d, j);
            }
        }
    }

    @Override
    public int groupsPerStep() {
        return DecodeStreams.GROUPS;
    }

    @Override
    public void dotFour(MemorySegment packed, long offset, long groupBytes, int cols, QuantizedInput x,
                        float[] out, int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.groupAcc;
        float[] t = scratch.fourT;
        Arrays.fill(acc, 0f);
        for (int b = 0; b < cols / BLOCK; b++) {
            long o = offset + b * BLOCK_BYTES;
            InterleavedLanes.centeredDotFour(packed, o, groupBytes, x.levels(), b * BLOCK, x.sum(b), scratch.levelShorts, t);
            for (int i = 0; i < 4; i++) {
                InterleavedLanes.addScaled(packed, o + i * groupBytes + SCALES, x.scale(b), t, ROWS * i, acc, ROWS * i,
                        scratch.rowScales);
            }
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    @Override
    public void dot(MemorySegment packed, long offset, int cols, QuantizedInput x, float[] out, int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.acc;
        float[] t = scratch.t;
        for (int b = 0; b < cols / BLOCK; b++) {
            long o = offset + b * BLOCK_BYTES;
            InterleavedLanes.centeredDot(packed, o, x.levels(), b * BLOCK, x.sum(b), t);
            InterleavedLanes.addScaled(packed, o + SCALES, x.scale(b), t, acc, scratch.rowScales);
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }
}
