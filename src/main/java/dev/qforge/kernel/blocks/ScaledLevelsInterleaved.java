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
 * The decode layout of the formats that are {@link ScaledLevels}: llama.cpp's lattice formats (IQ1_S … IQ3_S),
 * whose weights are grid entries named by index, the codebook formats IQ4_NL/IQ4_XS, MXFP4, the ternary TQ1_0 and
 * TQ2_0, the K-quants Q2_K, Q3_K and Q5_K and the legacy Q4_1, Q5_0 and Q5_1. Where a format has at most 16 levels each weight's level becomes a 4-bit code into the
 * format's table: per 32 columns of a group the 32 rows' codes are {@link InterleavedLanes} nibbles (512 bytes);
 * with more levels (the 5-bit formats' 32) each level is a byte, column by column (1024 bytes). Before them come the rows'
 * factors for those 32 columns (a byte per row per span of 16 or 32) and their offsets where the format has
 * them; each block ends with the rows' d (and dmin) as f32. For IQ2_XXS that is 4480 bytes per 256×32 weights,
 * 4.375 bits per weight against the file's 2.06: the packed copy trades memory for a kernel without table walks
 * per weight. ggml decodes these formats from the file's bytes, one grid lookup per 8 weights in scalar code;
 * here the grid is walked once, at packing, and the kernel is Q4_0's with one more instruction per 32 weights:
 * the code looked up in a vector register that holds the table (vpermw).
 *
 * <p>Row j's dot with x is Σ_blocks d_j·Σ_spans factor_js·d_x·Σ level·x_q − dmin_j·Σ_spans offset_js·d_x·Σ x_q.
 * Levels up to 127 times int8 activations overflow short lanes within a few columns, so the short sums run over
 * as many columns as the table's largest level allows exactly (the wrap-around of partial sums cancels as long
 * as the chunk's true sum fits) and are then widened into int lanes. A common factor of the levels (IQ3_XXS's
 * are all even) is moved into d, which halves the widening.
 */
final class ScaledLevelsInterleaved implements InterleavedLayout {
    private static final int BLOCK = QuantizedInput.BLOCK;
    private static final VectorSpecies<Short> S = InterleavedLanes.S;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Float> F = InterleavedLanes.F;

    private final ScaledLevels format;
    private final int bytesPerBlock;
    private final int weights;
    private final int span;
    /** Factor bytes of one 32-column block: 32 per span, none without factors. */
    private final int factorBytes;
    private final boolean offsets;
    /** Bytes of one 32-column block: factors, offsets (as many), then codes. */
    private final int columnBytes;
    private final long blockBytes;
    /** Where in a block the rows' d are, then their dmin where there are offsets. */
    private final int dOffset;
    /** Levels held as bytes (more than 16 of them) rather than as 4-bit codes. */
    private final boolean wide;
    /**
     * Code → level ÷ unit, in short lanes 0-15 and again in 16-31: a lookup reads only the low 5 bits of its index
     * (selectFrom wraps indices, as vpermw does), so with the table twice the bit above a nibble does not matter
     * and the nibbles need a shift but no mask.
     */
    private final short[] table = new short[32];
    /** The levels' greatest common divisor, moved into d. */
    private final int unit;
    /** Level (as an unsigned byte) → its code, or −1 for a level the format does not declare. */
    private final int[] codeOf = new int[256];
    /**
     * Nibble steps per short chunk (the last chunk of 8 may be shorter): each of a chunk's two accumulators sums
     * 2·steps columns. IQ2_XXS's largest level 43 allows 3 (6·43·127 = 32766), IQ4's 127 only 1.
     */
    private final int steps;

    ScaledLevelsInterleaved(ScaledLevels format, int bytesPerBlock) {
        this.format = format;
        this.bytesPerBlock = bytesPerBlock;
        ScaledLevels.Shape shape = format.shape();
        this.weights = shape.blockWeights();
        this.span = shape.factorSpan();
        if (weights % BLOCK != 0 || span != 0 && span != 16 && span != 32) {
            throw new IllegalArgumentException("blocks of " + weights + " weights, factors per " + span);
        }
        this.factorBytes = span == 0 ? 0 : ROWS * (BLOCK / span);
        this.offsets = shape.offsets();
        if (offsets && span == 0) {
            throw new IllegalArgumentException("offsets need spans");
        }
        byte[] levels = shape.levels();
        this.wide = levels.length > 16;
        this.columnBytes = (offsets ? 2 : 1) * factorBytes + codeBytes();
        this.dOffset = weights / BLOCK * columnBytes;
        this.blockBytes = dOffset + (offsets ? 8L : 4L) * ROWS;
        int g = 0;
        int max = 1;
        for (byte l : levels) {
            g = gcd(g, Math.abs(l));
            max = Math.max(max, Math.abs(l));
        }
        this.unit = Math.max(g, 1);
        Arrays.fill(codeOf, -1);
        for (int c = 0; c < levels.length; c++) {
            if (!wide) {
                table[c] = (short) (levels[c] / unit);
                table[c + 16] = table[c];
            }
            codeOf[levels[c] & 0xFF] = wide ? (levels[c] / unit) & 0xFF : c;
        }
        // a chunk's accumulator sums 2·steps columns of |level/unit|·127: exact in a short while ≤ 32767 (byte levels
        // are summed 8 columns at a time, which |level| ≤ 32 keeps exact)
        int largest = max / unit;
        if (wide && largest > 32) {
            throw new IllegalArgumentException("byte levels up to 32 in magnitude, not " + largest);
        }
        this.steps = Math.max(1, Math.min(8, Short.MAX_VALUE / (2 * 127 * largest)));
    }

    /** Bytes of the levels of 32 columns of 32 rows. */
    private int codeBytes() {
        return wide ? BLOCK * ROWS : InterleavedLanes.NIBBLE_BYTES;
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    @Override
    public long groupBytes(int cols) {
        return cols / weights * blockBytes;
    }

    @Override
    public void pack(MemorySegment src, long srcOffset, long rowBytes, int rows, int cols, MemorySegment dst,
                     long dstOffset) {
        byte[] level = new byte[weights];
        byte[] factor = new byte[Math.max(1, weights / 16)];
        byte[] offset = new byte[factor.length];
        int[] codes = new int[BLOCK];
        for (int j = 0; j < rows; j++) {
            for (int b = 0; b < cols / weights; b++) {
                long so = srcOffset + j * rowBytes + (long) b * bytesPerBlock;
                float d = format.unpack(src, so, level, factor);
                long o = dstOffset + b * blockBytes;
                dst.set(ValueLayout.JAVA_FLOAT_UNALIGNED, o + dOffset + 4L * j, d * unit);
                if (offsets) {
                    float dmin = format.unpackOffsets(src, so, offset);
                    dst.set(ValueLayout.JAVA_FLOAT_UNALIGNED, o + dOffset + 4L * (ROWS + j), dmin);
                }
                for (int c = 0; c < weights / BLOCK; c++) {
                    long co = o + (long) c * columnBytes;
                    for (int f = 0; f < factorBytes / ROWS; f++) {
                        BlockBytes.putU8(dst, co + (long) f * ROWS + j, factor[c * (BLOCK / span) + f]);
                        if (offsets) {
                            BlockBytes.putU8(dst, co + factorBytes + (long) f * ROWS + j, offset[c * (BLOCK / span) + f]);
                        }
                    }
                    for (int i = 0; i < BLOCK; i++) {
                        int code = codeOf[level[c * BLOCK + i] & 0xFF];
                        if (code < 0) {
                            throw new IllegalStateException("level " + level[c * BLOCK + i] + " is not in the table");
                        }
                        codes[i] = code;
                        if (wide) {
                            BlockBytes.putU8(dst, co + codesOffset() + (long) i * ROWS + j, code);
                        }
                    }
                    if (!wide) {
                        InterleavedLanes.put(codes, dst, co + codesOffset(), j);
                    }
                }
            }
        }
    }

    /** Where the codes start in a 32-column block: after the factors and offsets. */
    private int codesOffset() {
        return columnBytes - codeBytes();
    }

    @Override
    public void dot(MemorySegment packed, long offset, int cols, QuantizedInput x, float[] out, int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.acc;
        float[] blockSums = scratch.t;
        // Σ_spans offset·d_x·Σ x_q per row, for the rows' dmin
        float[] offsetSums = scratch.offsets;
        int[] ints = scratch.ints;
        int perBlock = weights / BLOCK;
        for (int b = 0; b < cols / weights; b++) {
            long o = offset + b * blockBytes;
            Arrays.fill(blockSums, 0f);
            if (offsets) {
                Arrays.fill(offsetSums, 0f);
            }
            for (int c = 0; c < perBlock; c++) {
                int xb = b * perBlock + c;
                long co = o + (long) c * columnBytes;
                addColumns(packed, co, x.levels(), xb * BLOCK, x.scale(xb), ints, blockSums);
                if (offsets) {
                    addOffsets(packed, co + factorBytes, x, xb, offsetSums);
                }
            }
            for (int p = 0; p < ROWS; p += 16) {
                FloatVector d = FloatVector.fromMemorySegment(F, packed, o + dOffset + 4L * p, ByteOrder.LITTLE_ENDIAN);
                FloatVector a = FloatVector.fromArray(F, blockSums, p).fma(d, FloatVector.fromArray(F, acc, p));
                if (offsets) {
                    FloatVector dmin = FloatVector.fromMemorySegment(F, packed, o + dOffset + 4L * (ROWS + p),
                            ByteOrder.LITTLE_ENDIAN);
                    a = a.sub(FloatVector.fromArray(F, offsetSums, p).mul(dmin));
                }
                a.intoArray(acc, p);
            }
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    /**
     * The kernel: sums[j] += d_x·Σ_spans factor_j·Σ level·a over the 32 columns at co and the activation levels
     * a[ao .. ao+32), for the 32 rows. The level sums over columns 0-15 and 16-31 are kept apart (for the formats with
     * a factor per 16 weights) as int lanes, ints[0..32) and ints[32..64) in row order, then meet the factors in int
     * lanes and become floats once, exactly: |Σ level·a·factor| ≤ 32·127·127·32 < 2^24 (IQ4_XS's extremes).
     *
     * <p>The steps pass vectors to each other through that small int array, never as arguments, return values or
     * variables merged across branches: C2 boxes a vector on the heap where it crosses a call it did not inline or
     * meets another at a branch merge, and a first version that did either ran the whole decode at a fifth of this
     * speed.
     */
    private void addColumns(MemorySegment g, long co, short[] a, int ao, float dx, int[] ints, float[] sums) {
        if (wide) {
            byteSums(g, co + codesOffset(), a, ao, ints);
        } else {
            codeSums(g, co + codesOffset(), a, ao, table, steps, ints);
        }
        if (span == 0) {
            for (int p = 0; p < ROWS; p += 16) {
                IntVector t = IntVector.fromArray(I, ints, p).add(IntVector.fromArray(I, ints, ROWS + p));
                ((FloatVector) t.convert(VectorOperators.I2F, 0)).mul(dx).add(FloatVector.fromArray(F, sums, p)).intoArray(sums, p);
            }
        } else if (span == 32) {
            for (int p = 0; p < ROWS; p += 16) {
                IntVector f = (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, co + p, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                IntVector t = IntVector.fromArray(I, ints, p).add(IntVector.fromArray(I, ints, ROWS + p)).mul(f);
                ((FloatVector) t.convert(VectorOperators.I2F, 0)).mul(dx).add(FloatVector.fromArray(F, sums, p)).intoArray(sums, p);
            }
        } else {
            for (int p = 0; p < ROWS; p += 16) {
                IntVector f = (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, co + p, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                IntVector f2 = (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, co + ROWS + p,
                        ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2I, I, 0);
                IntVector t = IntVector.fromArray(I, ints, p).mul(f).add(IntVector.fromArray(I, ints, ROWS + p).mul(f2));
                ((FloatVector) t.convert(VectorOperators.I2F, 0)).mul(dx).add(FloatVector.fromArray(F, sums, p)).intoArray(sums, p);
            }
        }
    }

    /**
     * ints[j] = Σ level·a over columns 0-15, ints[32 + j] over 16-31, for the 4-bit codes of the nibble group at off.
     * Each chunk's short sums cover 2·steps columns, exactly (see {@link #steps}), and are then widened.
     */
    private static void codeSums(MemorySegment g, long off, short[] a, int ao, short[] table, int steps, int[] ints) {
        ShortVector lookup = ShortVector.fromArray(S, table, 0);
        IntVector lo0 = IntVector.zero(I);
        IntVector lo1 = lo0;
        IntVector hi0 = lo0;
        IntVector hi1 = lo0;
        for (int k0 = 0; k0 < 8; k0 += steps) {
            ShortVector lo = ShortVector.zero(S);
            ShortVector hi = lo;
            for (int k = k0, end = Math.min(k0 + steps, 8); k < end; k++) {
                ShortVector v = ShortVector.fromMemorySegment(S, g, off + k * 64L, ByteOrder.LITTLE_ENDIAN);
                IntVector w = v.reinterpretAsInts();
                lo = lo.add(v.selectFrom(lookup).mul(a[ao + k]))
                        .add(shifted(w, 4).selectFrom(lookup).mul(a[ao + k + 8]));
                hi = hi.add(shifted(w, 8).selectFrom(lookup).mul(a[ao + k + 16]))
                        .add(shifted(w, 12).selectFrom(lookup).mul(a[ao + k + 24]));
            }
            lo0 = lo0.add((IntVector) lo.convertShape(VectorOperators.S2I, I, 0));
            lo1 = lo1.add((IntVector) lo.convertShape(VectorOperators.S2I, I, 1));
            hi0 = hi0.add((IntVector) hi.convertShape(VectorOperators.S2I, I, 0));
            hi1 = hi1.add((IntVector) hi.convertShape(VectorOperators.S2I, I, 1));
        }
        lo0.intoArray(ints, 0);
        lo1.intoArray(ints, 16);
        hi0.intoArray(ints, 32);
        hi1.intoArray(ints, 48);
    }

    /** As {@link #codeSums} for levels held as a signed byte per row, 32 bytes per column (|level| ≤ 32). */
    private static void byteSums(MemorySegment g, long off, short[] a, int ao, int[] ints) {
        for (int c0 = 0; c0 < BLOCK; c0 += 16) {
            // two sums of 8 products each: |level·a| ≤ 32·127, so 8 of them fit a short lane
            ShortVector even = ShortVector.zero(S);
            ShortVector odd = even;
            for (int c = c0; c < c0 + 16; c += 2) {
                ShortVector e = (ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g,
                        off + (long) c * ROWS, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S, 0);
                ShortVector d = (ShortVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_256, g,
                        off + (long) (c + 1) * ROWS, ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2S, S, 0);
                even = even.add(e.mul(a[ao + c]));
                odd = odd.add(d.mul(a[ao + c + 1]));
            }
            ((IntVector) even.convertShape(VectorOperators.S2I, I, 0))
                    .add((IntVector) odd.convertShape(VectorOperators.S2I, I, 0)).intoArray(ints, 2 * c0);
            ((IntVector) even.convertShape(VectorOperators.S2I, I, 1))
                    .add((IntVector) odd.convertShape(VectorOperators.S2I, I, 1)).intoArray(ints, 2 * c0 + 16);
        }
    }

    /** sums[j] += d_x·Σ_spans offset_j·(the span's activation level sum), for the 32 rows (Q2_K's and Q5_K's mins). */
    private void addOffsets(MemorySegment g, long oo, QuantizedInput x, int xb, float[] sums) {
        int s0 = span == 16 ? x.halfSum(xb, 0) : x.sum(xb);
        int s1 = span == 16 ? x.halfSum(xb, 1) : 0;
        for (int p = 0; p < ROWS; p += 16) {
            IntVector t = ((IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, oo + p, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2I, I, 0)).mul(s0);
            if (span == 16) {
                t = t.add(((IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, oo + ROWS + p,
                        ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2I, I, 0)).mul(s1));
            }
            ((FloatVector) t.convert(VectorOperators.I2F, 0)).mul(x.scale(xb)).add(FloatVector.fromArray(F, sums, p))
                    .intoArray(sums, p);
        }
    }

    /**
     * Each short of w shifted right by shift, shifted as int lanes: the low short takes the high one's bits at its top,
     * which the lookups, reading only the low 5 bits, never see.
     */
    private static ShortVector shifted(IntVector w, int shift) {
        return w.lanewise(VectorOperators.LSHR, shift).reinterpretAsShorts();
    }
}
