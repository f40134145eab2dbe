package dev.qforge.kernel.blocks;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Q6_K's decode layout. Per super-block column (256 columns) of a group: for each of the 16 sub-blocks
 * the 32 rows' int8 scales (32 bytes) and their levels centred to q − 32 as one signed byte each,
 * column by column (16 × 32 bytes), then the rows' d as f32 (128 bytes): 8832 bytes per 256×32 weights, 8.6
 * bits per weight against Q6_K's 6.6. One byte per level trades a third more bytes for a loop of load,
 * widen, multiply, add; splitting 6-bit levels out of Q6_K's 4+2-bit planes takes twice the operations
 * per weight. Everything is read in the order it is stored: a layout that kept the scales in a header
 * ahead of the levels streamed from memory at two thirds of the speed.
 *
 * <p>Row j's dot with x is Σ_superblocks d_j·Σ_s sc_js·d_x(s)·Σ (q − 32)·x_q over sub-blocks s of 16
 * columns (two per block of the quantized activations).
 */
final class Q6KInterleaved implements InterleavedLayout {
    private static final int QK = 256;
    private static final int SOURCE_BLOCK_BYTES = 210;
    /** The 16 sub-blocks, each as its 32 scales and 16 columns of levels; then d: reading order. */
    private static final int SUB_BLOCK_BYTES = ROWS + 16 * ROWS;
    private static final int LEVELS = ROWS;
    private static final int D = 16 * SUB_BLOCK_BYTES;
    /**
     * d as f32, not Q6_K's f16: a Q6_K d is often an f16 subnormal (every one of the synthetic 1B model's; d is the
     * largest sub-block scale over 127 or so), and the kernels' f16 conversion ({@link InterleavedLanes#f16sInto}) would
     * multiply it as a float subnormal, which takes a microcode assist of ~100 cycles per vector on Intel Xeons
     * (measured: 38 ns against 2.5 per 16-lane multiply). 64 bytes more per 256×32 weights (0.7 %).
     */
    private static final long BLOCK_BYTES = D + 4 * ROWS;
    private static final VectorSpecies<Short> S = InterleavedLanes.S;

    @Override
    public long groupBytes(int cols) {
        return cols / QK * BLOCK_BYTES;
    }

    @Override
    public void pack(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols, MemorySegment dst,
                     long dstOffset) {
        for (int j = 0; j < rows; j++) {
            for (int b = 0; b < cols / QK; b++) {
                long s = srcOffset + j * rowBytes + (long) b * SOURCE_BLOCK_BYTES;
                long d = dstOffset + b * BLOCK_BYTES;
                dst.set(ValueLayout.JAVA_FLOAT_UNALIGNED, d + D + 4L * j, BlockBytes.f16(src, s + 208));
                for (int sub = 0; sub < 16; sub++) {
                    BlockBytes.putU8(dst, d + sub * SUB_BLOCK_BYTES + j, BlockBytes.u8(src, s + 192 + sub));
                }
                for (int h = 0; h < 2; h++) {
                    long ql = s + 64L * h;
                    long qh = s + 128 + 32L * h;
                    for (int l = 0; l < 32; l++) {
                        int hb = BlockBytes.u8(src, qh + l);
                        int lo = BlockBytes.u8(src, ql + l);
                        int lo2 = BlockBytes.u8(src, ql + l + 32);
                        int col = 128 * h + l;
                        putLevel(dst, d, col, j, (lo & 0xF | (hb & 3) << 4) - 32);
                        putLevel(dst, d, col + 32, j, (lo2 & 0xF | (hb >> 2 & 3) << 4) - 32);
                        putLevel(dst, d, col + 64, j, (lo >> 4 | (hb >> 4 & 3) << 4) - 32);
                        putLevel(dst, d, col + 96, j, (lo2 >> 4 | (hb >> 6 & 3) << 4) - 32);
                    }
                }
            }
        }
    }

    private static void putLevel(MemorySegment dst, long block, int col, int row, int level) {
        dst.set(ValueLayout.JAVA_BYTE, block + (long) (col / 16) * SUB_BLOCK_BYTES + LEVELS
                + (long) (col % 16) * ROWS + row, (byte) level);
    }

    @Override
    public void dot(MemorySegment packed, long offset, int cols, QuantizedInput x, float[] out, int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.acc;
        float[] sums = scratch.t; // per super-block: Σ_s sc·d_x·Σ (q − 32)·x_q
        for (int b = 0; b < cols / QK; b++) {
            long o = offset + b * BLOCK_BYTES;
            Arrays.fill(sums, 0f);
            for (int sub = 0; sub < 16; sub++) {
                int col = b * QK + sub * 16;
                addSubBlock(packed, o, sub, x.levels(), col, x.scale(col / QuantizedInput.BLOCK), sums, scratch.levelShorts);
            }
            addSuperBlock(packed, o, sums, 0, acc, 0);
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    @Override
    public int groupsPerStep() {
        return DecodeStreams.GROUPS;
    }

    @Override
    public void dotFour(MemorySegment packed, long offset, long groupBytes, int cols, QuantizedInput x, float[] out,
                        int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.groupAcc;
        float[] sums = scratch.fourT;
        short[] shorts = scratch.levelShorts;
        Arrays.fill(acc, 0f);
        for (int b = 0; b < cols / QK; b++) {
            long o = offset + b * BLOCK_BYTES;
            Arrays.fill(sums, 0f);
            for (int sub = 0; sub < 16; sub++) {
                int col = b * QK + sub * 16;
                long so = o + sub * (long) SUB_BLOCK_BYTES;
                InterleavedLanes.byteSumsFour(packed, so + LEVELS, groupBytes, x.levels(), col, shorts);
                float dx = x.scale(col / QuantizedInput.BLOCK);
                for (int i = 0; i < 4; i++) {
                    addScaledSums(packed, so + i * groupBytes, shorts, 64 * i, dx, sums, ROWS * i);
                }
            }
            for (int i = 0; i < 4; i++) {
                addSuperBlock(packed, o + i * groupBytes, sums, ROWS * i, acc, ROWS * i);
            }
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    /**
     * sums[s ..) += sc·d_x·(even + odd) for the 32 rows, the sums at shorts[so ..) and [so + 32 ..), sc at o. The two
     * halves are written out, with constant parts and no helper that returns a vector: C2 compiled this method on its
     * own in some runs (not inlined into dotFour), and where a half's part was a loop variable or a helper stayed a
     * call, its conversions ran as the Vector API's Java fallback: 1 run in 2 to 4 of a Q4_0 file's decode (whose output
     * matrix is Q6_K) allocated 96 MB per token and ran at 25-27 tok/s instead of 35-37.
     */
    private static void addScaledSums(MemorySegment packed, long o, short[] shorts, int so, float dx, float[] sums, int s) {
        ShortVector even = ShortVector.fromArray(S, shorts, so);
        ShortVector odd = ShortVector.fromArray(S, shorts, so + 32);
        FloatVector sc0 = (FloatVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, packed, o, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.B2F, InterleavedLanes.F, 0);
        FloatVector sc1 = (FloatVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, packed, o + 16, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.B2F, InterleavedLanes.F, 0);
        ((FloatVector) even.convertShape(VectorOperators.S2F, InterleavedLanes.F, 0))
                .add((FloatVector) odd.convertShape(VectorOperators.S2F, InterleavedLanes.F, 0)).mul(dx)
                .fma(sc0, FloatVector.fromArray(InterleavedLanes.F, sums, s)).intoArray(sums, s);
        ((FloatVector) even.convertShape(VectorOperators.S2F, InterleavedLanes.F, 1))
                .add((FloatVector) odd.convertShape(VectorOperators.S2F, InterleavedLanes.F, 1)).mul(dx)
                .fma(sc1, FloatVector.fromArray(InterleavedLanes.F, sums, s + 16)).intoArray(sums, s + 16);
    }

    /** acc[a ..) += d·sums[s ..) for the 32 rows of the super-block at o. */
    private static void addSuperBlock(MemorySegment packed, long o, float[] sums, int s, float[] acc, int a) {
        for (int p = 0; p < ROWS; p += 16) {
            FloatVector.fromArray(InterleavedLanes.F, sums, s + p)
                    .fma(FloatVector.fromMemorySegment(InterleavedLanes.F, packed, o + D + 4L * p, ByteOrder.LITTLE_ENDIAN),
                            FloatVector.fromArray(InterleavedLanes.F, acc, a + p))
                    .intoArray(acc, a + p);
        }
    }

    /**
     * sums += sc·d_x·Σ (q − 32)·x_q over sub-block sub (16 columns from col) of the super-block at o; the even and odd
     * sums pass through shorts[0 .. 64) to {@link #addScaledSums}.
     */
    private static void addSubBlock(MemorySegment packed, long o, int sub, short[] a, int col, float dx, float[] sums,
                                    short[] shorts) {
        ShortVector even = ShortVector.zero(S);
        ShortVector odd = even;
        long so = o + sub * (long) SUB_BLOCK_BYTES;
        long lv = so + LEVELS;
        // two sums of 8 products each: |(q − 32)·x_q| ≤ 32·127, so 8 of them fit a short lane
        for (int i = 0; i < 16; i += 2) {
            even = even.add(InterleavedLanes.widenBytes(packed, lv + i * (long) ROWS).mul(a[col + i]));
            odd = odd.add(InterleavedLanes.widenBytes(packed, lv + (i + 1) * (long) ROWS).mul(a[col + i + 1]));
        }
        even.intoArray(shorts, 0);
        odd.intoArray(shorts, 32);
        addScaledSums(packed, so, shorts, 0, dx, sums, 0);
    }
}
