package dev.qforge.kernel.blocks;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Q8_0's decode layout. Per block column b (32 columns) of a group: the 32 rows' levels column by column (32 × 32
 * signed bytes, each column's rows in {@link InterleavedLanes#splitLane} order: 0, 16, 1, 17, …), then their f16
 * scales d ({@link F16Rebiased}; 64 bytes, rows in order): 1088 bytes per 32×32 weights, Q8_0's own 8.5 bits per weight.
 *
 * <p>Two int8 × int8 products fit a short lane (2·128·127 = 32512, even for a -128 level in a file), so columns are
 * taken in pairs: widen, multiply by the broadcast activation levels, add the pair in shorts, then split the pair sum
 * into rows 0-15 and 16-31 by shifts (8 % faster in cache and 5-7 % faster in the 1B decode on a Xeon than widening
 * each half). Row j's dot with x is Σ_b d_j·d_x(b)·Σ q·x_q.
 */
final class Q8_0Interleaved implements InterleavedLayout {
    private static final int BLOCK = 32;
    private static final int SOURCE_BLOCK_BYTES = 34;
    private static final int SCALES = BLOCK * ROWS;
    private static final long BLOCK_BYTES = SCALES + 2 * ROWS;
    private static final long STREAM_STAGGER = 256;
    private static final long PAGE = 4096;
    private static final VectorSpecies<Short> S = InterleavedLanes.S;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;

    @Override
    public long groupBytes(int cols) {
        return cols / BLOCK * BLOCK_BYTES;
    }

    /**
     * Where four groups are read at once ({@link DecodeStreams}) and their size is a whole number of 4 KiB pages (1088
     * bytes per 32 columns: at any multiple of 2048 columns), groups 256 bytes further apart than their size, so that
     * the four streams do not sit at the same offset within their pages at every step. On the Xeon measured (2 vCPUs,
     * AMX) the spaced groups streamed at 27.7-29.2 GB/s on two threads against 23.0-26.5 (2048 and 8192 columns, five
     * separate allocations, each faster spaced) and the 1B Q8_0 decode ran 26.0-26.4 tok/s against 23.0-23.6. Not for
     * the other layouts: the same spacing made Q4_0's kernel 0-5 % and its decode 2-10 % slower, Q6_K's decode 2-4 %.
     */
    @Override
    public long groupStride(int cols) {
        long bytes = groupBytes(cols);
        return DecodeStreams.GROUPS == 4 && bytes % PAGE == 0 ? bytes + STREAM_STAGGER : bytes;
    }

    /** Scales {@link F16Rebiased}: every block's d below 128 in magnitude. */
    @Override
    public boolean holds(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols) {
        return F16Rebiased.blockScalesFit(src, srcOffset, rowBytes, rows, cols / BLOCK, SOURCE_BLOCK_BYTES, 1);
    }

    @Override
    public void pack(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols, MemorySegment dst,
                     long dstOffset) {
        for (int j = 0; j < rows; j++) {
            for (int b = 0; b < cols / BLOCK; b++) {
                long s = srcOffset + j * rowBytes + (long) b * SOURCE_BLOCK_BYTES;
                long d = dstOffset + b * BLOCK_BYTES;
                BlockBytes.putU16(dst, d + SCALES + 2L * j, F16Rebiased.of(BlockBytes.u16(src, s)));
                for (int k = 0; k < BLOCK; k++) {
                    dst.set(ValueLayout.JAVA_BYTE, d + (long) k * ROWS + InterleavedLanes.splitLane(j),
                            src.get(ValueLayout.JAVA_BYTE, s + 2 + k));
                }
            }
        }
    }

    @Override
    public void dot(MemorySegment packed, long offset, int cols, QuantizedInput x, float[] out, int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.acc;
        float[] t = scratch.t;
        for (int b = 0; b < cols / BLOCK; b++) {
            long o = offset + b * BLOCK_BYTES;
            blockDot(packed, o, x.levels(), b * BLOCK, t);
            InterleavedLanes.addScaled(packed, o + SCALES, x.scale(b), t, acc, scratch.rowScales);
        }
        System.arraycopy(acc, 0, out, outOff, rows);
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
            blockDotFour(packed, o, groupBytes, x.levels(), b * BLOCK, t);
            for (int i = 0; i < 4; i++) {
                InterleavedLanes.addScaled(packed, o + i * groupBytes + SCALES, x.scale(b), t, ROWS * i, acc, ROWS * i,
                        scratch.rowScales);
            }
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    /**
     * {@link #blockDot} of the four groups at off, off + groupBytes, …: group i's sums into t[32i ..). A pair sum's int
     * lane holds row i + 16 in its high short and row i in its low one; the low shorts are biased by 2^15 (a short add,
     * no carry), so that the lane reads as high·2^16 + (low + 2^15) with the second term in [0, 2^16). Summing whole
     * lanes and, apart, the lanes shifted right by 16 then gives both rows' sums with one shift per pair (the low rows:
     * Σ lanes − (Σ high)·2^16 − 16·2^15, exact modulo 2^32), where taking the low shorts out took two. The widenings
     * are written out (no helper that returns a vector: C2 stops inlining in a method this large).
     */
    private static void blockDotFour(MemorySegment g, long off, long groupBytes, short[] a, int ao, float[] t) {
        ShortVector bias = ShortVector.fromArray(S, InterleavedLanes.LOW_SHORT_BIAS, 0);
        IntVector all0 = IntVector.zero(I);
        IntVector hi0 = all0;
        IntVector all1 = all0;
        IntVector hi1 = all0;
        IntVector all2 = all0;
        IntVector hi2 = all0;
        IntVector all3 = all0;
        IntVector hi3 = all0;
        for (int k = 0; k < BLOCK; k += 2) {
            ShortVector a0 = ShortVector.broadcast(S, a[ao + k]);
            ShortVector a1 = ShortVector.broadcast(S, a[ao + k + 1]);
            long o = off + (long) k * ROWS;
            IntVector p0 = ((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(a0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o + ROWS, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2S, S, 0)).mul(a1)).add(bias).reinterpretAsInts();
            all0 = all0.add(p0);
            hi0 = hi0.add(p0.lanewise(VectorOperators.ASHR, 16));
            o += groupBytes;
            IntVector p1 = ((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(a0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o + ROWS, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2S, S, 0)).mul(a1)).add(bias).reinterpretAsInts();
            all1 = all1.add(p1);
            hi1 = hi1.add(p1.lanewise(VectorOperators.ASHR, 16));
            o += groupBytes;
            IntVector p2 = ((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(a0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o + ROWS, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2S, S, 0)).mul(a1)).add(bias).reinterpretAsInts();
            all2 = all2.add(p2);
            hi2 = hi2.add(p2.lanewise(VectorOperators.ASHR, 16));
            o += groupBytes;
            IntVector p3 = ((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(a0)
                    .add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o + ROWS, ByteOrder.LITTLE_ENDIAN)
                            .convertShape(VectorOperators.B2S, S, 0)).mul(a1)).add(bias).reinterpretAsInts();
            all3 = all3.add(p3);
            hi3 = hi3.add(p3.lanewise(VectorOperators.ASHR, 16));
        }
        ((FloatVector) all0.sub(hi0.lanewise(VectorOperators.LSHL, 16)).sub(BLOCK / 2 << 15)
                .convert(VectorOperators.I2F, 0)).intoArray(t, 0);
        ((FloatVector) hi0.convert(VectorOperators.I2F, 0)).intoArray(t, 16);
        ((FloatVector) all1.sub(hi1.lanewise(VectorOperators.LSHL, 16)).sub(BLOCK / 2 << 15)
                .convert(VectorOperators.I2F, 0)).intoArray(t, 32);
        ((FloatVector) hi1.convert(VectorOperators.I2F, 0)).intoArray(t, 48);
        ((FloatVector) all2.sub(hi2.lanewise(VectorOperators.LSHL, 16)).sub(BLOCK / 2 << 15)
                .convert(VectorOperators.I2F, 0)).intoArray(t, 64);
        ((FloatVector) hi2.convert(VectorOperators.I2F, 0)).intoArray(t, 80);
        ((FloatVector) all3.sub(hi3.lanewise(VectorOperators.LSHL, 16)).sub(BLOCK / 2 << 15)
                .convert(VectorOperators.I2F, 0)).intoArray(t, 96);
        ((FloatVector) hi3.convert(VectorOperators.I2F, 0)).intoArray(t, 112);
    }

    /** t[j] = Σ_k q_jk·a[ao + k] over the block's 32 columns, for the 32 rows j. */
    private static void blockDot(MemorySegment g, long off, short[] a, int ao, float[] t) {
        IntVector lo = IntVector.zero(I);
        IntVector hi = lo;
        for (int k = 0; k < BLOCK; k += 2) {
            ShortVector pair = InterleavedLanes.widenBytes(g, off + (long) k * ROWS).mul(a[ao + k])
                    .add(InterleavedLanes.widenBytes(g, off + (long) (k + 1) * ROWS).mul(a[ao + k + 1]));
            lo = lo.add(InterleavedLanes.splitLow(pair));
            hi = hi.add(InterleavedLanes.splitHigh(pair));
        }
        ((FloatVector) lo.convert(VectorOperators.I2F, 0)).intoArray(t, 0);
        ((FloatVector) hi.convert(VectorOperators.I2F, 0)).intoArray(t, 16);
    }
}
