package dev.qforge.kernel.blocks;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Vector tools of the {@link InterleavedLayout}s: 32 rows as the lanes of one short vector or of two float
 * vectors (lanes 0-15, 16-31).
 *
 * <p>The 4-bit layouts store 32 consecutive levels of 32 rows as 8 vectors
 * of 32 shorts (512 bytes); short lane j of vector k holds row j's levels k, k+8, k+16 and k+24 in its
 * four nibbles. Taking a nibble out is one shift and one mask on all 32 rows at once; the cross-lane
 * byte-to-short widening that a byte-per-lane layout needs measured 20 % slower.
 *
 * <p>The kernels pass partial sums between methods in small float arrays, never as vector return values:
 * C2 stops inlining once a method's graph is large (NodeCountInliningCutoff), and a vector returned from a
 * call that was not inlined is boxed on the heap (Q4_K's matvec went from 13 to 21 G weights/s without it).
 */
final class InterleavedLanes {
    /** Bytes of 32 levels of 32 rows in nibbles. */
    static final int NIBBLE_BYTES = 512;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_512;
    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    /**
     * 2^15 in the low short of each int lane, 0 in the high one: added to short sums that two rows share an int lane of
     * (a short add, no carry between them), it makes the lane read as high·2^16 + (low + 2^15) with the second term in
     * [0, 2^16), so that summing whole lanes and, apart, the lanes shifted right by 16 gives both rows' sums with one
     * shift (the low ones: Σ lanes − (Σ high)·2^16 − n·2^15 for n sums, exact modulo 2^32). Read only: kernels load it
     * as a vector (a helper returning the vector would not be inlined into them).
     */
    static final short[] LOW_SHORT_BIAS = lowShortBias();

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static short[] lowShortBias() {
        short[] b = new short[S.length()];
        for (int i = 0; i < b.length; i += 2) {
            b[i] = (short) 0x8000;
        }
        return b;
    }

    private InterleavedLanes() {
    }

    /** A thread's arrays for a group's partial sums (the dot of a group allocates nothing): acc zeroed. */
    static Scratch scratch() {
        Scratch s = SCRATCH.get();
        Arrays.fill(s.acc, 0f);
        return s;
    }

    /** Partial sums of one group: the result being built, a block's sums, a super-block's sums. */
    static final class Scratch {
        final float[] acc = new float[32];
        final float[] t = new float[32];
        final float[] sums = new float[64];
        /** Per-row f16 factors of a block (d, and dmin after them) as floats. */
        final float[] rowScales = new float[64];
        /**
         * For a kernel that takes up to four groups at once ({@link ScaledLevelsInterleaved}; it zeroes them): their
         * results, block sums and offset sums (32 per group), and one 32-column block's level sums, as ints for one
         * group or as shorts for four.
         */
        final float[] groupAcc = new float[128];
        final float[] groupSums = new float[128];
        final float[] groupOffsets = new float[128];
        final int[] levelInts = new int[64];
        final short[] levelShorts = new short[256];
        /** For the kernels that take four groups at once ({@link DecodeStreams}): a block's sums, 32 per group. */
        final float[] fourT = new float[128];
        /** ... and a super-block's sums, 64 per group. */
        final float[] fourSums = new float[256];
        /** ... and a block's level sums as ints, 64 per group. */
        final int[] fourInts = new int[256];
    }

    /**
     * The lane of row j (of 32) in a layout whose kernel splits short sums by shifts: rows 0-15 at the even lanes,
     * 16-31 at the odd ones, so that each int lane holds row i in its low short and row 16 + i in its high one, and
     * {@link #splitLow} and {@link #splitHigh} give rows 0-15 and 16-31 in order. Widening the upper half of a short
     * vector instead takes a cross-lane permute on the port that the widenings, broadcasts and lookups already crowd.
     * (The two split helpers return vectors: two shifts each, well inside what C2 inlines; were one left as a call,
     * {@code qforge bench}'s heap per token would show it.)
     */
    static int splitLane(int j) {
        return j < 16 ? 2 * j : 2 * (j - 16) + 1;
    }

    /** The low short of each int lane of v, sign-extended: rows 0-15 of a {@link #splitLane} layout's sums. */
    static IntVector splitLow(ShortVector v) {
        return v.reinterpretAsInts().lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16);
    }

    /** The high short of each int lane of v, sign-extended: rows 16-31 of a {@link #splitLane} layout's sums. */
    static IntVector splitHigh(ShortVector v) {
        return v.reinterpretAsInts().lanewise(VectorOperators.ASHR, 16);
    }

    /** Writes row's 32 levels (each in [0, 16)) into the group at off. */
    static void put(int[] levels, MemorySegment dst, long off, int row) {
        for (int k = 0; k < 8; k++) {
            int s = levels[k] | levels[k + 8] << 4 | levels[k + 16] << 8 | levels[k + 24] << 12;
            BlockBytes.putU16(dst, off + k * 64L + row * 2L, s);
        }
    }

    /**
     * t[j] = Σ_i (q_ji − 8)·a[ao + i] over the 32 levels of the nibble group at off, for the 32 rows j;
     * aSum = Σ_i a[ao + i]. Each of the four nibble sums stays within 8·15·127 and the centred total
     * within 32·8·127 = 32512, so short lanes hold it exactly (the intermediate wrap-around cancels).
     */
    static void centeredDot(MemorySegment g, long off, short[] a, int ao, int aSum, float[] t) {
        ShortVector s0 = ShortVector.zero(S);
        ShortVector s1 = s0;
        ShortVector s2 = s0;
        ShortVector s3 = s0;
        for (int k = 0; k < 8; k++) {
            ShortVector v = ShortVector.fromMemorySegment(S, g, off + k * 64L, ByteOrder.LITTLE_ENDIAN);
            // nibbles 1-3 are shifted as int lanes and masked per short: C2 shifts shorts by a count held
            // in a register, ints by an immediate, which measured 5 % faster over the whole kernel
            IntVector w = v.reinterpretAsInts();
            s0 = s0.add(v.and((short) 15).mul(a[ao + k]));
            s1 = s1.add(w.lanewise(VectorOperators.LSHR, 4).and(0x000F000F).reinterpretAsShorts().mul(a[ao + k + 8]));
            s2 = s2.add(w.lanewise(VectorOperators.LSHR, 8).and(0x000F000F).reinterpretAsShorts().mul(a[ao + k + 16]));
            s3 = s3.add(w.lanewise(VectorOperators.LSHR, 12).and(0x000F000F).reinterpretAsShorts().mul(a[ao + k + 24]));
        }
        ShortVector total = s0.add(s1).add(s2.add(s3)).sub((short) (8 * aSum));
        ((FloatVector) total.convertShape(VectorOperators.S2F, F, 0)).intoArray(t, 0);
        ((FloatVector) total.convertShape(VectorOperators.S2F, F, 1)).intoArray(t, 16);
    }

    /**
     * {@link #centeredDot} of the four groups at off, off + groupBytes, …, whose loads interleave ({@link DecodeStreams}
     * says why): group i's 32 sums into t[32i ..). The nibble sums are taken per half block into shorts (a scratch of
     * 256; they may wrap around, and the centred total comes out exact as in centeredDot); two calls because C2 stops
     * inlining the vector operations of a method this large that takes the whole block.
     */
    static void centeredDotFour(MemorySegment g, long off, long groupBytes, short[] a, int ao, int aSum, short[] shorts,
                                float[] t) {
        nibbleSumsFour(g, off, groupBytes, a, ao, 0, shorts, 0);
        nibbleSumsFour(g, off, groupBytes, a, ao, 4, shorts, 32);
        for (int i = 0; i < 4; i++) {
            ShortVector total = ShortVector.fromArray(S, shorts, 64 * i).add(ShortVector.fromArray(S, shorts, 64 * i + 32))
                    .sub((short) (8 * aSum));
            ((FloatVector) total.convertShape(VectorOperators.S2F, F, 0)).intoArray(t, 32 * i);
            ((FloatVector) total.convertShape(VectorOperators.S2F, F, 1)).intoArray(t, 32 * i + 16);
        }
    }

    /**
     * Σ q·a over the nibble vectors k0 .. k0+3 (columns k, k+8, k+16, k+24) of four groups, group i's into
     * shorts[so + 64i ..]. The nibble shifts are written out: left to a helper that returned a vector, C2
     * compiled this method 6× slower. They shift short lanes, so the top nibble needs no mask (14 operations per 64
     * bytes instead of 15); against int shifts, 1B Q4_0 decode 36.97, 37.13, 36.86 → 37.21, 38.00, 37.49 tok/s
     * alternated, and int shifts for the middle nibbles with the short one for the top read 37.2-37.4 against
     * 37.9-38.7 (Xeon, 2 threads).
     */
    private static void nibbleSumsFour(MemorySegment g, long off, long groupBytes, short[] a, int ao, int k0,
                                       short[] shorts, int so) {
        ShortVector sum0 = ShortVector.zero(S);
        ShortVector sum1 = sum0;
        ShortVector sum2 = sum0;
        ShortVector sum3 = sum0;
        for (int k = k0; k < k0 + 4; k++) {
            ShortVector a0 = ShortVector.broadcast(S, a[ao + k]);
            ShortVector a1 = ShortVector.broadcast(S, a[ao + k + 8]);
            ShortVector a2 = ShortVector.broadcast(S, a[ao + k + 16]);
            ShortVector a3 = ShortVector.broadcast(S, a[ao + k + 24]);
            long o = off + k * 64L;
            ShortVector v = ShortVector.fromMemorySegment(S, g, o, ByteOrder.LITTLE_ENDIAN);
            sum0 = sum0.add(v.and((short) 0xF).mul(a0))
                    .add(v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(a1))
                    .add(v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(a2))
                    .add(v.lanewise(VectorOperators.LSHR, 12).mul(a3));
            v = ShortVector.fromMemorySegment(S, g, o + groupBytes, ByteOrder.LITTLE_ENDIAN);
            sum1 = sum1.add(v.and((short) 0xF).mul(a0))
                    .add(v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(a1))
                    .add(v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(a2))
                    .add(v.lanewise(VectorOperators.LSHR, 12).mul(a3));
            v = ShortVector.fromMemorySegment(S, g, o + 2 * groupBytes, ByteOrder.LITTLE_ENDIAN);
            sum2 = sum2.add(v.and((short) 0xF).mul(a0))
                    .add(v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(a1))
                    .add(v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(a2))
                    .add(v.lanewise(VectorOperators.LSHR, 12).mul(a3));
            v = ShortVector.fromMemorySegment(S, g, o + 3 * groupBytes, ByteOrder.LITTLE_ENDIAN);
            sum3 = sum3.add(v.and((short) 0xF).mul(a0))
                    .add(v.lanewise(VectorOperators.LSHR, 4).and((short) 0xF).mul(a1))
                    .add(v.lanewise(VectorOperators.LSHR, 8).and((short) 0xF).mul(a2))
                    .add(v.lanewise(VectorOperators.LSHR, 12).mul(a3));
        }
        sum0.intoArray(shorts, so);
        sum1.intoArray(shorts, so + 64);
        sum2.intoArray(shorts, so + 128);
        sum3.intoArray(shorts, so + 192);
    }

    /**
     * For byte-per-level layouts (a column's 32 rows as 32 signed bytes, columns 32 bytes apart, rows in order: Q6_K,
     * Q5_0, Q5_1, Q5_K): the short sums of levels times a[ao ..] over the 16 columns from off, even columns and odd ones
     * apart, for the four groups at off, off + groupBytes, …, their loads interleaved ({@link DecodeStreams}): group
     * i's into shorts[64i ..) and [64i + 32 ..). Each is 8 products of at most 32·127 (levels within ±32) and fits a
     * short lane. The widenings are written out: C2 stops inlining helpers that return vectors in a method this large.
     */
    static void byteSumsFour(MemorySegment g, long off, long groupBytes, short[] a, int ao, short[] shorts) {
        ShortVector e0 = ShortVector.zero(S);
        ShortVector o0 = e0;
        ShortVector e1 = e0;
        ShortVector o1 = e0;
        ShortVector e2 = e0;
        ShortVector o2 = e0;
        ShortVector e3 = e0;
        ShortVector o3 = e0;
        for (int c = 0; c < 16; c += 2) {
            ShortVector ae = ShortVector.broadcast(S, a[ao + c]);
            ShortVector ad = ShortVector.broadcast(S, a[ao + c + 1]);
            long o = off + c * 32L;
            e0 = e0.add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(ae));
            o0 = o0.add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o + 32, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(ad));
            o += groupBytes;
            e1 = e1.add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(ae));
            o1 = o1.add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o + 32, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(ad));
            o += groupBytes;
            e2 = e2.add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(ae));
            o2 = o2.add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o + 32, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(ad));
            o += groupBytes;
            e3 = e3.add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(ae));
            o3 = o3.add(((ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g, o + 32, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2S, S, 0)).mul(ad));
        }
        e0.intoArray(shorts, 0);
        o0.intoArray(shorts, 32);
        e1.intoArray(shorts, 64);
        o1.intoArray(shorts, 96);
        e2.intoArray(shorts, 128);
        o2.intoArray(shorts, 160);
        e3.intoArray(shorts, 192);
        o3.intoArray(shorts, 224);
    }

    /**
     * dst[dstOff + i] = the {@link F16Rebiased} f16 value at off + 2i as a float, for 16 values: f16 bits moved into a
     * float's exponent and mantissa, then scaled by {@link F16Rebiased#X_SCALE} to rebias the exponent, which is exact
     * for every value that can be re-encoded (the Vector API has no f16 conversion). The f16 is sign-extended to an int
     * and shifted left by 13: its sign lands in bit 31, exponent and mantissa in bits 13-27, and three copies of the
     * sign in bits 28-30, which one mask clears (a load-and-widen, a shift, a mask and the multiply, where separate
     * masks and shifts for sign and magnitude took seven operations; 13 % of a Q4_0 decode's samples were in this
     * method). Re-encoded, not as the file has them: an f16 subnormal would be a float subnormal here, and on Intel
     * Xeons a multiply with a subnormal input takes a microcode assist (38 ns against 2.5 per 16-lane multiply;
     * a Q8_0 matrix of small weights, σ 0.002, most of its scales subnormal, streamed at 15.7 GB/s against 32.9 for
     * σ 0.02). Into an array, not returned as a vector: where C2 compiles a method that returns
     * a vector without inlining it into its caller, the vector is boxed on the heap at every call, and for this one it
     * did so in some runs and not in others (1.7 MB per decode step of a 1B model where it did).
     */
    static void f16sInto(MemorySegment s, long off, float[] dst, int dstOff) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(ShortVector.SPECIES_256, s, off, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, IntVector.SPECIES_512, 0);
        IntVector bits = h.lanewise(VectorOperators.LSHL, 13).and(0x8FFFFFFF);
        bits.reinterpretAsFloats().mul(F16Rebiased.X_SCALE).intoArray(dst, dstOff);
    }

    /** dst[dstOff .. dstOff + 32) = the 32 rows' {@link F16Rebiased} f16 values at off as floats. */
    static void rowF16s(MemorySegment s, long off, float[] dst, int dstOff) {
        f16sInto(s, off, dst, dstOff);
        f16sInto(s, off + 32, dst, dstOff + 16);
    }

    /** The 32 signed bytes at off as 32 short lanes. */
    static ShortVector widenBytes(MemorySegment s, long off) {
        return (ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, s, off, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.B2S, S, 0);
    }

    /**
     * acc[j] += d_j·dx·t[j] for the 32 rows, d_j the {@link F16Rebiased} f16 scales at scales (converted into d, a
     * scratch of 32).
     */
    static void addScaled(MemorySegment packed, long scales, float dx, float[] t, float[] acc, float[] d) {
        addScaled(packed, scales, dx, t, 0, acc, 0, d);
    }

    /** As {@link #addScaled} with the 32 sums from t[tOff] and the rows' results from acc[accOff]. */
    static void addScaled(MemorySegment packed, long scales, float dx, float[] t, int tOff, float[] acc, int accOff,
                          float[] d) {
        rowF16s(packed, scales, d, 0);
        for (int p = 0; p < 32; p += 16) {
            FloatVector.fromArray(F, t, tOff + p).mul(dx).fma(FloatVector.fromArray(F, d, p),
                    FloatVector.fromArray(F, acc, accOff + p)).intoArray(acc, accOff + p);
        }
    }
}
