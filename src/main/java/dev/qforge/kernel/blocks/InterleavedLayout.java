package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

/**
 * A block format's decode layout: the rows of a matrix repacked, once, in groups of 32 so that one vector
 * holds the same column's level for all 32 rows (a short lane per row). A matrix-vector product then
 * multiplies 32 rows by one broadcast activation level per step, sums levels in integer lanes against
 * the activations quantized to int8 ({@link QuantizedInput}, as ggml pairs its formats with Q8_0/Q8_K),
 * and applies each block's scales once per 32 columns to all 32 rows together, so no horizontal sum is
 * left and the 32 results come out as lanes. The row-at-a-time dots with float activations, which widen
 * every level to a float, run at a third to a half of this speed (QuantKernelBenchmark).
 *
 * <p>The packed bytes are the format's own levels and scales rearranged (6-bit scales unpacked to bytes,
 * levels re-centred or split into nibbles where the kernel wants them), never a dequantized copy; each
 * layout documents its bytes per group and how its bits per weight compare with the format's.
 */
public interface InterleavedLayout {
    /** Rows per group: one short lane per row of a 512-bit vector. */
    int ROWS = 32;

    /** Bytes of one group of 32 rows of cols columns. */
    long groupBytes(int cols);

    /**
     * Bytes from one group to the next in a packed matrix: {@link #groupBytes}, or more where the layout spaces its
     * groups apart (the gap after each group is never read).
     */
    default long groupStride(int cols) {
        return groupBytes(cols);
    }

    /**
     * Whether the layout can hold the matrix whose rows of the format's bytes are at srcOffset + j·rowBytes (j below
     * rows): the Q8_0, Q4_0 and Q4_K layouts keep their scales {@link F16Rebiased}, which holds magnitudes below 128 only. A
     * matrix it cannot hold is decoded by the format's row dots instead. Asked once per matrix, before packing.
     */
    default boolean holds(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols) {
        return true;
    }

    /**
     * Packs rows of the format's bytes — row j of the group at srcOffset + j·rowBytes, for j below
     * rows (at most 32) — into dst at dstOffset. dst is zero-filled; rows past the last stay zero.
     */
    void pack(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols, MemorySegment dst, long dstOffset);

    /**
     * Builds what the kernel derives from an activation vector once per product (the {@link PairTables}), after x is
     * quantized; it is called before each piece of a product's groups, by whichever thread runs the piece, and builds
     * the tables on the first call only. A layout without such tables does nothing.
     */
    default void prepare(QuantizedInput x) {
    }

    /**
     * How many consecutive groups {@link #dotGroups} takes at once where it can (the rest one by one): callers hand
     * out groups in multiples of it.
     */
    default int groupsPerStep() {
        return 1;
    }

    /**
     * {@link #dot} of consecutive groups: the groups at offset + g·groupBytes for g below groups, row results from
     * out[outOff] on, rows in all (the last group may have fewer than 32). Where {@link #groupsPerStep} is 4, four at
     * a time through {@link #dotFour}, the rest one by one.
     */
    default void dotGroups(MemorySegment packed, long offset, long groupBytes, int groups, int cols, QuantizedInput x,
                           float[] out, int outOff, int rows) {
        int g = 0;
        if (groupsPerStep() == 4) {
            for (; g + 4 <= groups; g += 4) {
                dotFour(packed, offset + g * groupBytes, groupBytes, cols, x, out, outOff + g * ROWS,
                        Math.min(4 * ROWS, rows - g * ROWS));
            }
        }
        for (; g < groups; g++) {
            dot(packed, offset + g * groupBytes, cols, x, out, outOff + g * ROWS, Math.min(ROWS, rows - g * ROWS));
        }
    }

    /**
     * {@link #dot} of the four groups at offset, offset + groupBytes, …, their loads interleaved ({@link DecodeStreams});
     * the same floats as four calls of dot, which is what a layout without such a kernel does.
     */
    default void dotFour(MemorySegment packed, long offset, long groupBytes, int cols, QuantizedInput x, float[] out,
                         int outOff, int rows) {
        for (int g = 0; g < 4 && g * ROWS < rows; g++) {
            dot(packed, offset + g * groupBytes, cols, x, out, outOff + g * ROWS, Math.min(ROWS, rows - g * ROWS));
        }
    }

    /** out[outOff + j] = Σ_c W[j, c]·x[c] for the group at offset and j below rows (at most 32). */
    void dot(MemorySegment packed, long offset, int cols, QuantizedInput x, float[] out, int outOff, int rows);
}
