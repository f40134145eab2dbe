package dev.qforge.kernel.blocks;

import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The ternary formats' decode layout (TQ1_0, TQ2_0: the same layout, unpacked from either packing). Per block
 * column b (32 columns) of a group: the 32 rows' trits + 1 (0, 1, 2) as four
 * vectors of 32 shorts, short lane j of vector k holding row j's levels k, k + 4, …, k + 28 in its eight 2-bit
 * fields (256 bytes), then the rows' f16 scales d (64 bytes, each super-block's d repeated for its 8 blocks):
 * 320 bytes per 32×32 weights, 2.5 bits per weight against TQ2_0's 2.06 and TQ1_0's 1.69: more bytes than the
 * format streams, for a kernel of shifts and masks instead of TQ1_0's base-3 digits.
 *
 * <p>Row j's dot with x is Σ_b d_j·d_x(b)·Σ_i (q − 1)·x_q: the trits times int8 activations summed in integer
 * lanes ({@link #levelDot}), as llama.cpp sums them against Q8_K.
 */
final class TernaryInterleaved implements InterleavedLayout {
    private static final int BLOCK = 32;
    private static final int SUPER = 256;
    private static final int SCALES = 256;
    private static final long BLOCK_BYTES = SCALES + 2 * ROWS;

    /** A format's unpacking: the 256 levels (−1, 0, 1) of the block at o into t. */
    interface Unpacker {
        void unpack(MemorySegment s, long o, byte[] t);
    }

    private final int sourceBlockBytes;
    private final int scaleOffset;
    private final Unpacker unpacker;

    TernaryInterleaved(int sourceBlockBytes, int scaleOffset, Unpacker unpacker) {
        this.sourceBlockBytes = sourceBlockBytes;
        this.scaleOffset = scaleOffset;
        this.unpacker = unpacker;
    }

    @Override
    public long groupBytes(int cols) {
        return cols / BLOCK * BLOCK_BYTES;
    }

    @Override
    public void pack(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols, MemorySegment dst,
                     long dstOffset) {
        byte[] t = new byte[SUPER];
        for (int j = 0; j < rows; j++) {
            for (int sb = 0; sb < cols / SUPER; sb++) {
                long s = srcOffset + j * rowBytes + (long) sb * sourceBlockBytes;
                unpacker.unpack(src, s, t);
                int scale = BlockBytes.u16(src, s + scaleOffset);
                for (int bb = 0; bb < SUPER / BLOCK; bb++) {
                    long d = dstOffset + (sb * (SUPER / BLOCK) + bb) * BLOCK_BYTES;
                    BlockBytes.putU16(dst, d + SCALES + 2L * j, scale);
                    for (int k = 0; k < 4; k++) {
                        int packed = 0;
                        for (int f = 0; f < 8; f++) {
                            packed |= (t[bb * BLOCK + k + 4 * f] + 1) << (2 * f);
                        }
                        BlockBytes.putU16(dst, d + k * 64L + j * 2L, packed);
                    }
                }
            }
        }
    }

    @Override
    public void dot(MemorySegment packed, long offset, int cols, QuantizedInput x, float[] out, int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.acc;
        float[] t = scratch.t;
        short[] a = x.levels();
        int[] sums = SUMS.get();
        for (int b = 0; b < cols / BLOCK; b++) {
            long o = offset + b * BLOCK_BYTES;
            levelDot(packed, o, a, b * BLOCK, x.sum(b), t, sums);
            InterleavedLanes.addScaled(packed, o + SCALES, x.scale(b), t, acc);
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    /**
     * t[j] = Σ_i (q_ji − 1)·a[ao + i] over the block's 32 columns for the 32 rows j, aSum = Σ_i a[ao + i].
     *
     * <p>Worked in int lanes, each holding two rows' fields (row 2i low, row 2i + 1 high): (lo + hi·2¹⁶)·a sums
     * to lo_sum + hi_sum·2¹⁶, exact in 32 bits since |lo_sum|, |hi_sum| ≤ 32·2·127, and splits back with a
     * sign-extending shift. No short/int reinterpretation is needed: those fell back to a library copy here
     * (a third of decode's samples in JFR).
     */
    private static void levelDot(MemorySegment g, long o, short[] a, int ao, int aSum, float[] t, int[] sums) {
        IntVector s0 = IntVector.zero(I);
        IntVector s1 = s0;
        for (int k = 0; k < 4; k++) {
            IntVector w = IntVector.fromMemorySegment(I, g, o + k * 64L, ByteOrder.LITTLE_ENDIAN);
            s0 = s0.add(w.and(FIELD).mul(a[ao + k]));
            s1 = s1.add(field(w, 2).mul(a[ao + k + 4]));
            s0 = s0.add(field(w, 4).mul(a[ao + k + 8]));
            s1 = s1.add(field(w, 6).mul(a[ao + k + 12]));
            s0 = s0.add(field(w, 8).mul(a[ao + k + 16]));
            s1 = s1.add(field(w, 10).mul(a[ao + k + 20]));
            s0 = s0.add(field(w, 12).mul(a[ao + k + 24]));
            s1 = s1.add(field(w, 14).mul(a[ao + k + 28]));
        }
        s0.add(s1).intoArray(sums, 0);
        for (int i = 0; i < ROWS / 2; i++) {
            int low = (short) sums[i];
            t[2 * i] = low - aSum;
            t[2 * i + 1] = ((sums[i] - low) >> 16) - aSum;
        }
    }

    private static final jdk.incubator.vector.VectorSpecies<Integer> I = IntVector.SPECIES_512;
    /** Bits 0–1 of both shorts of an int. */
    private static final int FIELD = 0x00030003;
    private static final ThreadLocal<int[]> SUMS = ThreadLocal.withInitial(() -> new int[ROWS / 2]);

    /** Bits shift, shift + 1 of both shorts of each int of w. */
    private static IntVector field(IntVector w, int shift) {
        return w.lanewise(VectorOperators.LSHR, shift).and(FIELD);
    }
}
