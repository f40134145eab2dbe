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
 * The decode layout of the formats that are {@link ScaledLevels}: llama.cpp's lattice formats (IQ1_S … IQ3_S), whose
 * weights are grid entries named by index, the codebook formats IQ4_NL/IQ4_XS, MXFP4, the ternary TQ1_0 and TQ2_0, the
 * K-quants Q2_K, Q3_K and Q5_K and the legacy Q4_1, Q5_0 and Q5_1. Where a format has at most 16 levels each weight's
 * level becomes a 4-bit code into the format's table: per 32 columns of a group the 32 rows' codes are {@link
 * InterleavedLanes} nibbles (512 bytes, rows in {@link InterleavedLanes#splitLane} order); with more levels (the 5-bit
 * formats' 32) each level is a byte, column by column (1024 bytes); with at most 4 (TQ1_0, TQ2_0, Q2_K) a 2-bit code
 * (256 bytes), and each pair of columns' codes indexes a table of their products with the activation levels ({@link
 * PairTables}): no multiply, two columns per lookup. Before the codes come the rows' factors for those 32 columns (a
 * byte per row per span of 16 or 32) and their offsets where the format has them; each block ends with the rows' d (and
 * dmin) as f32. For IQ2_XXS that is 4480 bytes per 256×32 weights, 4.375 bits per weight against the file's 2.06: the
 * packed copy trades memory for a kernel without table walks per weight. ggml decodes these formats from the file's
 * bytes, one grid lookup per 8 weights in scalar code; here the grid is walked once, at packing, and the kernel is
 * Q4_0's with one more instruction per 32 weights: the code looked up in a vector register that holds the table
 * (vpermw).
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
    /** At most 4 levels: 2-bit codes, two columns per lookup into the activations' {@link PairTables}; else null. */
    private final PairTables pairs;
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
        int g = 0;
        int max = 1;
        for (byte l : levels) {
            g = gcd(g, Math.abs(l));
            max = Math.max(max, Math.abs(l));
        }
        this.unit = Math.max(g, 1);
        this.pairs = levels.length <= 4 ? pairTables(levels) : null;
        // codeBytes() depends on wide and pairs
        this.columnBytes = (offsets ? 2 : 1) * factorBytes + codeBytes();
        this.dOffset = weights / BLOCK * columnBytes;
        this.blockBytes = dOffset + (offsets ? 8L : 4L) * ROWS;
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
        // a half's sum is 8 table entries; without factors both halves meet in shorts (16)
        if (pairs != null && (span == 0 ? 16 : 8) * pairs.largestEntry() > Short.MAX_VALUE) {
            throw new IllegalArgumentException("pair sums of levels up to " + largest + " overflow short lanes");
        }
    }

    /** The pair tables of a format with at most 4 levels: code c's level ÷ unit (unused codes 0). */
    private PairTables pairTables(byte[] levels) {
        short[] byCode = new short[4];
        for (int c = 0; c < levels.length; c++) {
            byCode[c] = (short) (levels[c] / unit);
        }
        return new PairTables(byCode);
    }

    /** Bytes of the levels of 32 columns of 32 rows. */
    private int codeBytes() {
        return wide ? BLOCK * ROWS : pairs != null ? PAIR_BYTES : InterleavedLanes.NIBBLE_BYTES;
    }

    /** Bytes of the 2-bit codes of 32 columns of 32 rows: 4 vectors, lane j holding 8 of row j's codes. */
    private static final int PAIR_BYTES = 256;

    /**
     * Writes a row's 32 codes (each in [0, 4)) into the 2-bit group at off: vector m, lane row, holds columns
     * 8m .. 8m+7 at bits 0-1, 2-3, …, so each nibble is the index of a pair of columns (2q, 2q+1), q = 4m + nibble.
     */
    private static void putPairs(int[] codes, MemorySegment dst, long off, int row) {
        for (int m = 0; m < 4; m++) {
            int s = 0;
            for (int i = 0; i < 8; i++) {
                s |= codes[8 * m + i] << (2 * i);
            }
            BlockBytes.putU16(dst, off + m * 64L + row * 2L, s);
        }
    }

    @Override
    public void prepare(QuantizedInput x) {
        if (pairs != null) {
            pairs.of(x);
        }
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
                    if (pairs != null) {
                        putPairs(codes, dst, co + codesOffset(), j);
                    } else if (!wide) {
                        InterleavedLanes.put(codes, dst, co + codesOffset(), InterleavedLanes.splitLane(j));
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
        dotSeveral(packed, offset, 0, 1, cols, x, out, outOff, rows);
    }

    @Override
    public int groupsPerStep() {
        return pairs != null ? SHARED_GROUPS : DecodeStreams.GROUPS;
    }

    /**
     * With pair tables four groups at a time: each table vector, read from L2 for the wider matrices (64 bytes per pair
     * of columns: 256 KB for 8192 columns), serves every group's lookups, which divides the table reads that otherwise
     * compete with the stream of weights for the core's outstanding misses. With 4-bit codes and byte levels four
     * groups at a time where {@link DecodeStreams} says so, their loads interleaved.
     */
    @Override
    public void dotFour(MemorySegment packed, long offset, long groupBytes, int cols, QuantizedInput x, float[] out,
                        int outOff, int rows) {
        dotSeveral(packed, offset, groupBytes, SHARED_GROUPS, cols, x, out, outOff, rows);
    }

    /**
     * Groups that share each table read. Measured on TQ2_0 matrices streamed from memory, one thread: 1 group ~21-28 G
     * weights/s, 2 groups 31-33, 4 groups 41-44, 8 groups no better than 4 (within noise).
     */
    private static final int SHARED_GROUPS = 4;

    /**
     * n consecutive groups from offset, groupBytes apart (n = 1, or 4; rows of all of them, the
     * last may have fewer than 32). Each 32-column block's level sums come from the layout's kernel: into ints for
     * the 4-bit and byte codes, into shorts for the pair tables (group i's sums over columns 0-15 at shorts[64i],
     * over 16-31 at shorts[64i + 32]); then they meet the factors, offsets and d.
     */
    private void dotSeveral(MemorySegment packed, long offset, long groupBytes, int n, int cols, QuantizedInput x,
                            float[] out, int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.groupAcc;
        float[] sums = scratch.groupSums;
        // Σ_spans offset·d_x·Σ x_q per row, for the rows' dmin
        float[] offsetSums = scratch.groupOffsets;
        int[] ints = n == 4 && pairs == null ? scratch.fourInts : scratch.levelInts;
        short[] shorts = scratch.levelShorts;
        Arrays.fill(acc, 0, n * ROWS, 0f);
        short[] pairTable = pairs == null ? null : pairs.of(x);
        int perBlock = weights / BLOCK;
        long codes = codesOffset();
        for (int b = 0; b < cols / weights; b++) {
            long o = offset + b * blockBytes;
            Arrays.fill(sums, 0, n * ROWS, 0f);
            if (offsets) {
                Arrays.fill(offsetSums, 0, n * ROWS, 0f);
            }
            for (int c = 0; c < perBlock; c++) {
                int xb = b * perBlock + c;
                long co = o + (long) c * columnBytes;
                int t = xb * BLOCK / 2 * PairTables.STRIDE;
                if (n == 4 && pairTable != null) {
                    pairHalfFour(packed, co + codes, groupBytes, pairTable, t, 0, shorts, 0);
                    pairHalfFour(packed, co + codes, groupBytes, pairTable, t, 2, shorts, 32);
                } else if (n == 4 && wide) {
                    InterleavedLanes.byteSumsFour(packed, co + codes, groupBytes, x.levels(), xb * BLOCK, shorts);
                    widenFour(shorts, 0, ints);
                    InterleavedLanes.byteSumsFour(packed, co + codes + 16L * ROWS, groupBytes, x.levels(), xb * BLOCK + 16,
                            shorts);
                    widenFour(shorts, 16, ints);
                } else if (n == 4) {
                    codeHalfFour(packed, co + codes, groupBytes, x.levels(), xb * BLOCK, table, steps, 0, ints);
                    codeHalfFour(packed, co + codes, groupBytes, x.levels(), xb * BLOCK + 16, table, steps, 8, ints);
                } else if (pairTable != null) {
                    pairSums(packed, co + codes, pairTable, t, shorts);
                } else if (wide) {
                    byteSums(packed, co + codes, x.levels(), xb * BLOCK, ints);
                } else {
                    codeSums(packed, co + codes, x.levels(), xb * BLOCK, table, steps, ints);
                }
                for (int i = 0; i < n; i++) {
                    long ci = co + i * groupBytes;
                    if (pairTable != null && span == 0) {
                        // no factors: the two halves' sums (each 8 entries) meet in short lanes and become floats there
                        addShortSums(shorts, 64 * i, x.scale(xb), sums, ROWS * i);
                    } else {
                        if (pairTable != null) {
                            widen(shorts, 64 * i, ints);
                        }
                        applyFactors(packed, ci, x.scale(xb), ints, pairTable == null ? 64 * i : 0, sums, ROWS * i);
                    }
                    if (offsets) {
                        addOffsets(packed, ci + factorBytes, x, xb, offsetSums, ROWS * i);
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                applyBlockScales(packed, o + i * groupBytes, sums, offsetSums, acc, ROWS * i);
            }
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    /** acc[r + j] += d_j·blockSums[r + j] (− dmin_j·offsetSums[r + j]) for the 32 rows of the block at o. */
    private void applyBlockScales(MemorySegment packed, long o, float[] blockSums, float[] offsetSums, float[] acc, int r) {
        for (int p = 0; p < ROWS; p += 16) {
            FloatVector d = FloatVector.fromMemorySegment(F, packed, o + dOffset + 4L * p, ByteOrder.LITTLE_ENDIAN);
            FloatVector a = FloatVector.fromArray(F, blockSums, r + p).fma(d, FloatVector.fromArray(F, acc, r + p));
            if (offsets) {
                FloatVector dmin = FloatVector.fromMemorySegment(F, packed, o + dOffset + 4L * (ROWS + p),
                        ByteOrder.LITTLE_ENDIAN);
                a = a.sub(FloatVector.fromArray(F, offsetSums, r + p).mul(dmin));
            }
            a.intoArray(acc, r + p);
        }
    }

    /**
     * sums[r + j] += d_x·Σ_spans factor_j·(level sums) for the 32 rows, from the level sums over columns 0-15 and 16-31
     * (ints[0..32) and ints[32..64) in row order) that a kernel left, and the factors at co: they meet in int lanes
     * and become floats once, exactly: |Σ level·a·factor| ≤ 32·127·127·32 < 2^24 (IQ4_XS's extremes).
     *
     * <p>The kernels pass vectors to each other through that small int array, never as arguments, return values or
     * variables merged across branches: C2 boxes a vector on the heap where it crosses a call it did not inline or
     * meets another at a branch merge, and a first version that did either ran the whole decode at a fifth of this
     * speed.
     */
    private void applyFactors(MemorySegment g, long co, float dx, int[] ints, int io, float[] sums, int r) {
        if (span == 0) {
            for (int p = 0; p < ROWS; p += 16) {
                IntVector t = IntVector.fromArray(I, ints, io + p).add(IntVector.fromArray(I, ints, io + ROWS + p));
                ((FloatVector) t.convert(VectorOperators.I2F, 0)).mul(dx).add(FloatVector.fromArray(F, sums, r + p)).intoArray(sums, r + p);
            }
        } else if (span == 32) {
            for (int p = 0; p < ROWS; p += 16) {
                IntVector f = (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, co + p, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                IntVector t = IntVector.fromArray(I, ints, io + p).add(IntVector.fromArray(I, ints, io + ROWS + p)).mul(f);
                ((FloatVector) t.convert(VectorOperators.I2F, 0)).mul(dx).add(FloatVector.fromArray(F, sums, r + p)).intoArray(sums, r + p);
            }
        } else {
            for (int p = 0; p < ROWS; p += 16) {
                IntVector f = (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, co + p, ByteOrder.LITTLE_ENDIAN)
                        .convertShape(VectorOperators.B2I, I, 0);
                IntVector f2 = (IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, co + ROWS + p,
                        ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2I, I, 0);
                IntVector t = IntVector.fromArray(I, ints, io + p).mul(f).add(IntVector.fromArray(I, ints, io + ROWS + p).mul(f2));
                ((FloatVector) t.convert(VectorOperators.I2F, 0)).mul(dx).add(FloatVector.fromArray(F, sums, r + p)).intoArray(sums, r + p);
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
            lo0 = lo0.add(InterleavedLanes.splitLow(lo));
            lo1 = lo1.add(InterleavedLanes.splitHigh(lo));
            hi0 = hi0.add(InterleavedLanes.splitLow(hi));
            hi1 = hi1.add(InterleavedLanes.splitHigh(hi));
        }
        lo0.intoArray(ints, 0);
        lo1.intoArray(ints, 16);
        hi0.intoArray(ints, 32);
        hi1.intoArray(ints, 48);
    }

    /**
     * {@link #codeSums} of one half of the four groups at off, off + groupBytes, …, their loads interleaved
     * ({@link DecodeStreams}): the columns of nibbles shift/4 and shift/4 + 1 of each code vector (0-15 for shift 0,
     * 16-31 for 8; a from the half's first column), group i's sums into ints[64i + 32·(shift/8) ..). Halves, so that
     * the sixteen accumulators of a whole block do not outgrow the registers. Each chunk's short sums start from
     * {@link InterleavedLanes#LOW_SHORT_BIAS}, so a chunk's two rows per int lane are taken with one shift, not three.
     */
    private static void codeHalfFour(MemorySegment g, long off, long groupBytes, short[] a, int ao, short[] table,
                                     int steps, int shift, int[] ints) {
        ShortVector lookup = ShortVector.fromArray(S, table, 0);
        ShortVector bias = ShortVector.fromArray(S, InterleavedLanes.LOW_SHORT_BIAS, 0);
        IntVector all0 = IntVector.zero(I);
        IntVector hi0 = all0;
        IntVector all1 = all0;
        IntVector hi1 = all0;
        IntVector all2 = all0;
        IntVector hi2 = all0;
        IntVector all3 = all0;
        IntVector hi3 = all0;
        int chunks = 0;
        for (int k0 = 0; k0 < 8; k0 += steps) {
            ShortVector s0 = bias;
            ShortVector s1 = bias;
            ShortVector s2 = bias;
            ShortVector s3 = bias;
            for (int k = k0, end = Math.min(k0 + steps, 8); k < end; k++) {
                ShortVector a0 = ShortVector.broadcast(S, a[ao + k]);
                ShortVector a1 = ShortVector.broadcast(S, a[ao + k + 8]);
                long o = off + k * 64L;
                IntVector w = IntVector.fromMemorySegment(I, g, o, ByteOrder.LITTLE_ENDIAN);
                s0 = s0.add(w.lanewise(VectorOperators.LSHR, shift).reinterpretAsShorts().selectFrom(lookup).mul(a0))
                        .add(w.lanewise(VectorOperators.LSHR, shift + 4).reinterpretAsShorts().selectFrom(lookup).mul(a1));
                w = IntVector.fromMemorySegment(I, g, o + groupBytes, ByteOrder.LITTLE_ENDIAN);
                s1 = s1.add(w.lanewise(VectorOperators.LSHR, shift).reinterpretAsShorts().selectFrom(lookup).mul(a0))
                        .add(w.lanewise(VectorOperators.LSHR, shift + 4).reinterpretAsShorts().selectFrom(lookup).mul(a1));
                w = IntVector.fromMemorySegment(I, g, o + 2 * groupBytes, ByteOrder.LITTLE_ENDIAN);
                s2 = s2.add(w.lanewise(VectorOperators.LSHR, shift).reinterpretAsShorts().selectFrom(lookup).mul(a0))
                        .add(w.lanewise(VectorOperators.LSHR, shift + 4).reinterpretAsShorts().selectFrom(lookup).mul(a1));
                w = IntVector.fromMemorySegment(I, g, o + 3 * groupBytes, ByteOrder.LITTLE_ENDIAN);
                s3 = s3.add(w.lanewise(VectorOperators.LSHR, shift).reinterpretAsShorts().selectFrom(lookup).mul(a0))
                        .add(w.lanewise(VectorOperators.LSHR, shift + 4).reinterpretAsShorts().selectFrom(lookup).mul(a1));
            }
            IntVector p = s0.reinterpretAsInts();
            all0 = all0.add(p);
            hi0 = hi0.add(p.lanewise(VectorOperators.ASHR, 16));
            p = s1.reinterpretAsInts();
            all1 = all1.add(p);
            hi1 = hi1.add(p.lanewise(VectorOperators.ASHR, 16));
            p = s2.reinterpretAsInts();
            all2 = all2.add(p);
            hi2 = hi2.add(p.lanewise(VectorOperators.ASHR, 16));
            p = s3.reinterpretAsInts();
            all3 = all3.add(p);
            hi3 = hi3.add(p.lanewise(VectorOperators.ASHR, 16));
            chunks++;
        }
        int biases = chunks << 15;
        int base = shift == 0 ? 0 : 32;
        all0.sub(hi0.lanewise(VectorOperators.LSHL, 16)).sub(biases).intoArray(ints, base);
        hi0.intoArray(ints, base + 16);
        all1.sub(hi1.lanewise(VectorOperators.LSHL, 16)).sub(biases).intoArray(ints, base + 64);
        hi1.intoArray(ints, base + 80);
        all2.sub(hi2.lanewise(VectorOperators.LSHL, 16)).sub(biases).intoArray(ints, base + 128);
        hi2.intoArray(ints, base + 144);
        all3.sub(hi3.lanewise(VectorOperators.LSHL, 16)).sub(biases).intoArray(ints, base + 192);
        hi3.intoArray(ints, base + 208);
    }

    /**
     * As {@link #codeSums} for 2-bit codes: each nibble of the group at off indexes its pair of columns' table (the
     * tables from t on are this group's 16 pairs), so a lookup and an add take 2 columns of 32 rows. The sums over
     * columns 0-15 go to shorts[0..32), over 16-31 to shorts[32..64): each is 8 table entries, within short lanes
     * (checked when the layout is made).
     */
    private static void pairSums(MemorySegment g, long off, short[] tables, int t, short[] shorts) {
        ShortVector lo = ShortVector.zero(S);
        ShortVector hi = lo;
        for (int m = 0; m < 2; m++) {
            ShortVector v = ShortVector.fromMemorySegment(S, g, off + m * 64L, ByteOrder.LITTLE_ENDIAN);
            IntVector w = v.reinterpretAsInts();
            int tm = t + m * 4 * PairTables.STRIDE;
            lo = lo.add(v.selectFrom(ShortVector.fromArray(S, tables, tm)))
                    .add(shifted(w, 4).selectFrom(ShortVector.fromArray(S, tables, tm + PairTables.STRIDE)))
                    .add(shifted(w, 8).selectFrom(ShortVector.fromArray(S, tables, tm + 2 * PairTables.STRIDE)))
                    .add(shifted(w, 12).selectFrom(ShortVector.fromArray(S, tables, tm + 3 * PairTables.STRIDE)));
            ShortVector u = ShortVector.fromMemorySegment(S, g, off + (m + 2) * 64L, ByteOrder.LITTLE_ENDIAN);
            IntVector z = u.reinterpretAsInts();
            int th = tm + 8 * PairTables.STRIDE;
            hi = hi.add(u.selectFrom(ShortVector.fromArray(S, tables, th)))
                    .add(shifted(z, 4).selectFrom(ShortVector.fromArray(S, tables, th + PairTables.STRIDE)))
                    .add(shifted(z, 8).selectFrom(ShortVector.fromArray(S, tables, th + 2 * PairTables.STRIDE)))
                    .add(shifted(z, 12).selectFrom(ShortVector.fromArray(S, tables, th + 3 * PairTables.STRIDE)));
        }
        lo.intoArray(shorts, 0);
        hi.intoArray(shorts, 32);
    }

    /**
     * {@link #pairSums} of the four groups at off, off + groupBytes, … from one read of each table vector, for the code
     * vectors m0 and m0+1 (columns 0-15 for m0 = 0, 16-31 for 2): group i's sums into shorts[so + 64i ..]. Two calls
     * make a 32-column block: with both halves in one method C2 stopped inlining the vector operations (reinterpret,
     * lookups, conversions) and ran it ~3× slower; the shifts are written out for the same reason.
     */
    private static void pairHalfFour(MemorySegment g, long off, long groupBytes, short[] tables, int t, int m0,
                                     short[] shorts, int so) {
        ShortVector sum0 = ShortVector.zero(S);
        ShortVector sum1 = sum0;
        ShortVector sum2 = sum0;
        ShortVector sum3 = sum0;
        for (int m = m0; m < m0 + 2; m++) {
            int tm = t + m * 4 * PairTables.STRIDE;
            ShortVector t0 = ShortVector.fromArray(S, tables, tm);
            ShortVector t1 = ShortVector.fromArray(S, tables, tm + PairTables.STRIDE);
            ShortVector t2 = ShortVector.fromArray(S, tables, tm + 2 * PairTables.STRIDE);
            ShortVector t3 = ShortVector.fromArray(S, tables, tm + 3 * PairTables.STRIDE);
            long o = off + m * 64L;
            IntVector a = IntVector.fromMemorySegment(I, g, o, ByteOrder.LITTLE_ENDIAN);
            sum0 = sum0.add(a.reinterpretAsShorts().selectFrom(t0))
                    .add(a.lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().selectFrom(t1))
                    .add(a.lanewise(VectorOperators.LSHR, 8).reinterpretAsShorts().selectFrom(t2))
                    .add(a.lanewise(VectorOperators.LSHR, 12).reinterpretAsShorts().selectFrom(t3));
            IntVector b = IntVector.fromMemorySegment(I, g, o + groupBytes, ByteOrder.LITTLE_ENDIAN);
            sum1 = sum1.add(b.reinterpretAsShorts().selectFrom(t0))
                    .add(b.lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().selectFrom(t1))
                    .add(b.lanewise(VectorOperators.LSHR, 8).reinterpretAsShorts().selectFrom(t2))
                    .add(b.lanewise(VectorOperators.LSHR, 12).reinterpretAsShorts().selectFrom(t3));
            IntVector c = IntVector.fromMemorySegment(I, g, o + 2 * groupBytes, ByteOrder.LITTLE_ENDIAN);
            sum2 = sum2.add(c.reinterpretAsShorts().selectFrom(t0))
                    .add(c.lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().selectFrom(t1))
                    .add(c.lanewise(VectorOperators.LSHR, 8).reinterpretAsShorts().selectFrom(t2))
                    .add(c.lanewise(VectorOperators.LSHR, 12).reinterpretAsShorts().selectFrom(t3));
            IntVector d = IntVector.fromMemorySegment(I, g, o + 3 * groupBytes, ByteOrder.LITTLE_ENDIAN);
            sum3 = sum3.add(d.reinterpretAsShorts().selectFrom(t0))
                    .add(d.lanewise(VectorOperators.LSHR, 4).reinterpretAsShorts().selectFrom(t1))
                    .add(d.lanewise(VectorOperators.LSHR, 8).reinterpretAsShorts().selectFrom(t2))
                    .add(d.lanewise(VectorOperators.LSHR, 12).reinterpretAsShorts().selectFrom(t3));
        }
        sum0.intoArray(shorts, so);
        sum1.intoArray(shorts, so + 64);
        sum2.intoArray(shorts, so + 128);
        sum3.intoArray(shorts, so + 192);
    }

    /**
     * sums[r + j] += dx·(s[off + j] + s[off + 32 + j]) for the 32 rows: a factorless block's two half sums, added in short
     * lanes (16 table entries, within range as 8 are) and made floats without passing through ints.
     */
    private static void addShortSums(short[] s, int off, float dx, float[] sums, int r) {
        ShortVector total = ShortVector.fromArray(S, s, off).add(ShortVector.fromArray(S, s, off + 32));
        // mul then add, as applyFactors does: a group's floats do not depend on which path took it
        ((FloatVector) total.convertShape(VectorOperators.S2F, F, 0)).mul(dx).add(FloatVector.fromArray(F, sums, r))
                .intoArray(sums, r);
        ((FloatVector) total.convertShape(VectorOperators.S2F, F, 1)).mul(dx).add(FloatVector.fromArray(F, sums, r + 16))
                .intoArray(sums, r + 16);
    }

    /** ints[0..64) = the 64 shorts at s[off ..] as ints. */
    private static void widen(short[] s, int off, int[] ints) {
        ShortVector lo = ShortVector.fromArray(S, s, off);
        ShortVector hi = ShortVector.fromArray(S, s, off + 32);
        ((IntVector) lo.convertShape(VectorOperators.S2I, I, 0)).intoArray(ints, 0);
        ((IntVector) lo.convertShape(VectorOperators.S2I, I, 1)).intoArray(ints, 16);
        ((IntVector) hi.convertShape(VectorOperators.S2I, I, 0)).intoArray(ints, 32);
        ((IntVector) hi.convertShape(VectorOperators.S2I, I, 1)).intoArray(ints, 48);
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

    /** For each of four groups: even + odd short sums (shorts[64i ..), [64i + 32 ..)) as ints, into ints[64i + 2·c0 ..). */
    private static void widenFour(short[] shorts, int c0, int[] ints) {
        for (int i = 0; i < 4; i++) {
            ShortVector even = ShortVector.fromArray(S, shorts, 64 * i);
            ShortVector odd = ShortVector.fromArray(S, shorts, 64 * i + 32);
            ((IntVector) even.convertShape(VectorOperators.S2I, I, 0))
                    .add((IntVector) odd.convertShape(VectorOperators.S2I, I, 0)).intoArray(ints, 64 * i + 2 * c0);
            ((IntVector) even.convertShape(VectorOperators.S2I, I, 1))
                    .add((IntVector) odd.convertShape(VectorOperators.S2I, I, 1)).intoArray(ints, 64 * i + 2 * c0 + 16);
        }
    }

    /** sums[r + j] += d_x·Σ_spans offset_j·(the span's activation level sum), for the 32 rows (Q2_K's and Q5_K's mins). */
    private void addOffsets(MemorySegment g, long oo, QuantizedInput x, int xb, float[] sums, int r) {
        int s0 = span == 16 ? x.halfSum(xb, 0) : x.sum(xb);
        int s1 = span == 16 ? x.halfSum(xb, 1) : 0;
        for (int p = 0; p < ROWS; p += 16) {
            IntVector t = ((IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, oo + p, ByteOrder.LITTLE_ENDIAN)
                    .convertShape(VectorOperators.B2I, I, 0)).mul(s0);
            if (span == 16) {
                t = t.add(((IntVector) ByteVector.fromMemorySegment(ByteVector.SPECIES_128, g, oo + ROWS + p,
                        ByteOrder.LITTLE_ENDIAN).convertShape(VectorOperators.B2I, I, 0)).mul(s1));
            }
            ((FloatVector) t.convert(VectorOperators.I2F, 0)).mul(x.scale(xb)).add(FloatVector.fromArray(F, sums, r + p))
                    .intoArray(sums, r + p);
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
