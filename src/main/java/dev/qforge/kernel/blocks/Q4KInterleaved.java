package dev.qforge.kernel.blocks;

import dev.qforge.numeric.LittleEndian;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Q4_K's decode layout. Per super-block column (256 columns) of a group: for each of the 8 sub-blocks
 * the 32 rows' 6-bit scales and mins unpacked to a byte each (64 bytes) and their levels as
 * {@link InterleavedLanes} nibbles (512 bytes), then the rows' f16 d and dmin ({@link F16Rebiased}; 128 bytes): 4736 bytes per
 * 256×32 weights, 4.625 bits per weight against Q4_K's 4.5. Everything is read in the order it is
 * stored: a layout that kept scales and mins in a header ahead of the levels streamed from memory at
 * 60 % of this speed.
 *
 * <p>Row j's dot with x is Σ_superblocks d_j·Σ_s sc_js·d_x(s)·Σ q·x_q − dmin_j·Σ_s m_js·d_x(s)·Σ x_q,
 * the sums over a sub-block s of 32 columns, which is one block of the quantized activations.
 */
final class Q4KInterleaved implements InterleavedLayout {
    private static final int QK = 256;
    private static final int SOURCE_BLOCK_BYTES = 144;
    /** The 8 sub-blocks, each as its 32 scales, 32 mins and nibble group; then d and dmin: reading order. */
    private static final int SUB_BLOCK_BYTES = 2 * ROWS + InterleavedLanes.NIBBLE_BYTES;
    private static final int SCALES = 0;
    private static final int MINS = ROWS;
    private static final int LEVELS = 2 * ROWS;
    private static final int D = 8 * SUB_BLOCK_BYTES;
    private static final int DMIN = D + 2 * ROWS;
    private static final long BLOCK_BYTES = DMIN + 2 * ROWS;

    @Override
    public long groupBytes(int cols) {
        return cols / QK * BLOCK_BYTES;
    }

    /** d and dmin {@link F16Rebiased}: every super-block's below 128 in magnitude. */
    @Override
    public boolean holds(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols) {
        return F16Rebiased.blockScalesFit(src, srcOffset, rowBytes, rows, cols / QK, SOURCE_BLOCK_BYTES, 2);
    }

    @Override
    public void pack(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols, MemorySegment dst,
                     long dstOffset) {
        int[] levels = new int[32];
        for (int j = 0; j < rows; j++) {
            for (int b = 0; b < cols / QK; b++) {
                long s = srcOffset + j * rowBytes + (long) b * SOURCE_BLOCK_BYTES;
                long d = dstOffset + b * BLOCK_BYTES;
                BlockBytes.putU16(dst, d + D + 2L * j, F16Rebiased.of(BlockBytes.u16(src, s)));
                BlockBytes.putU16(dst, d + DMIN + 2L * j, F16Rebiased.of(BlockBytes.u16(src, s + 2)));
                long lo = src.get(LittleEndian.I64, s + 4);
                int hi = BlockBytes.u32(src, s + 12);
                for (int sub = 0; sub < 8; sub++) {
                    BlockBytes.putU8(dst, d + sub * SUB_BLOCK_BYTES + SCALES + j, PackedScales6.scale(lo, hi, sub));
                    BlockBytes.putU8(dst, d + sub * SUB_BLOCK_BYTES + MINS + j, PackedScales6.min(lo, hi, sub));
                }
                for (int r = 0; r < 4; r++) {
                    // run r of 32 bytes: low nibbles are sub-block 2r, high nibbles sub-block 2r+1
                    for (int half = 0; half < 2; half++) {
                        for (int l = 0; l < 32; l++) {
                            levels[l] = BlockBytes.u8(src, s + 16 + 32 * r + l) >>> (4 * half) & 0xF;
                        }
                        InterleavedLanes.put(levels, dst, d + (2 * r + half) * (long) SUB_BLOCK_BYTES + LEVELS, j);
                    }
                }
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
        float[] sums = scratch.fourSums;
        Arrays.fill(acc, 0f);
        for (int b = 0; b < cols / QK; b++) {
            long o = offset + b * BLOCK_BYTES;
            Arrays.fill(sums, 0f);
            for (int sub = 0; sub < 8; sub++) {
                int xb = b * 8 + sub;
                long so = o + sub * (long) SUB_BLOCK_BYTES;
                InterleavedLanes.centeredDotFour(packed, so + LEVELS, groupBytes, x.levels(), xb * QuantizedInput.BLOCK,
                        x.sum(xb), scratch.levelShorts, t);
                for (int i = 0; i < 4; i++) {
                    addSubBlock(packed, so + i * groupBytes, x.sum(xb), x.scale(xb), t, ROWS * i, sums, 2 * ROWS * i);
                }
            }
            for (int i = 0; i < 4; i++) {
                addSuperBlock(packed, o + i * groupBytes, sums, 2 * ROWS * i, acc, ROWS * i, scratch.rowScales);
            }
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    @Override
    public void dot(MemorySegment packed, long offset, int cols, QuantizedInput x, float[] out, int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.acc;
        float[] t = scratch.t;
        // per super-block: Σ_s sc·d_x·Σ q·x_q in sums[0..32), Σ_s m·d_x·Σ x_q in sums[32..64)
        float[] sums = scratch.sums;
        for (int b = 0; b < cols / QK; b++) {
            long o = offset + b * BLOCK_BYTES;
            Arrays.fill(sums, 0f);
            for (int sub = 0; sub < 8; sub++) {
                int xb = b * 8 + sub;
                long so = o + sub * (long) SUB_BLOCK_BYTES;
                InterleavedLanes.centeredDot(packed, so + LEVELS,
                        x.levels(), xb * QuantizedInput.BLOCK, x.sum(xb), t);
                addSubBlock(packed, so, x.sum(xb), x.scale(xb), t, 0, sums, 0);
            }
            addSuperBlock(packed, o, sums, 0, acc, 0, scratch.rowScales);
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    /** sums[s ..) += the terms of the sub-block at o, its level sums from t[tOff ..). */
    private static void addSubBlock(MemorySegment packed, long o, int aSum, float dx, float[] t, int tOff, float[] sums,
                                    int s) {
        // Σ q·x_q = Σ (q − 8)·x_q + 8·Σ x_q, exact in float (|value| < 2^16)
        float shift = 8f * aSum;
        float mx = aSum * dx;
        for (int p = 0; p < ROWS; p += 16) {
            // the per-row bytes widened here, not by a helper that returns a vector (Q6KInterleaved.addScaledSums says why)
            FloatVector sc = (FloatVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, packed, o + SCALES + p,
                    ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, InterleavedLanes.F, 0);
            FloatVector mn = (FloatVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, packed, o + MINS + p,
                    ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2F, InterleavedLanes.F, 0);
            FloatVector.fromArray(InterleavedLanes.F, t, tOff + p).add(shift).mul(dx)
                    .fma(sc, FloatVector.fromArray(InterleavedLanes.F, sums, s + p)).intoArray(sums, s + p);
            mn.mul(mx).add(FloatVector.fromArray(InterleavedLanes.F, sums, s + ROWS + p)).intoArray(sums, s + ROWS + p);
        }
    }

    /** acc[a ..) += d·sums[s .. s+32) − dmin·sums[s+32 .. s+64) (d and dmin converted into rowScales). */
    private static void addSuperBlock(MemorySegment packed, long o, float[] sums, int s, float[] acc, int a,
                                      float[] rowScales) {
        InterleavedLanes.rowF16s(packed, o + D, rowScales, 0);
        InterleavedLanes.rowF16s(packed, o + DMIN, rowScales, ROWS);
        for (int p = 0; p < ROWS; p += 16) {
            FloatVector d = FloatVector.fromArray(InterleavedLanes.F, rowScales, p);
            FloatVector dmin = FloatVector.fromArray(InterleavedLanes.F, rowScales, ROWS + p);
            FloatVector.fromArray(InterleavedLanes.F, sums, s + p).fma(d, FloatVector.fromArray(InterleavedLanes.F, acc, a + p))
                    .sub(FloatVector.fromArray(InterleavedLanes.F, sums, s + ROWS + p).mul(dmin)).intoArray(acc, a + p);
        }
    }
}
