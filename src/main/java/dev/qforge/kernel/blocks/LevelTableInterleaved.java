package dev.qforge.kernel.blocks;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * The decode layout of the formats that are {@link ScaledLevels}: llama.cpp's lattice formats (IQ1_S … IQ3_S),
 * whose weights are grid entries named by index, and the codebook formats IQ4_NL/IQ4_XS. Each weight's level
 * becomes a 4-bit code into the format's table of at most 16 levels; per 32 columns of a group the 32 rows'
 * codes are {@link InterleavedLanes} nibbles (512 bytes), preceded by the rows' factors for those columns (a
 * byte per row per span of 16 or 32), and each block ends with the rows' d as f32 (128 bytes). For IQ2_XXS that
 * is 4480 bytes per 256×32 weights, 4.375 bits per weight against the file's 2.06: the packed copy trades
 * memory for a kernel without per-weight table walks. ggml decodes these formats from the file's bytes, one
 * grid lookup per 8 weights in scalar code and then int8 dot products; here the grid is walked once, at
 * packing, and the kernel is Q4_0's with one more instruction per 32 weights: the code looked up in a vector
 * register (vpermw) that holds the table.
 *
 * <p>Row j's dot with x is Σ_blocks d_j · Σ_spans factor_js · d_x · Σ level·x_q. Levels up to 127 times int8
 * activations overflow short lanes within a few columns, so the short sums run over as many columns as the
 * table's largest level allows exactly (steps below; the wrap-around of partial sums cancels as long as the
 * chunk's true sum fits) and are then widened into int lanes. A common factor of the levels (IQ3_XXS's are
 * all even) is moved into d, which halves the widening.
 */
final class LevelTableInterleaved implements InterleavedLayout {
    private static final int BLOCK = QuantizedInput.BLOCK;

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
    /** Code → level ÷ unit, in the first 16 short lanes (the rest zero). */
    private final short[] table = new short[32];
    /** The levels' greatest common divisor, moved into d. */
    private final int unit;
    /** Level (as an unsigned byte) → its code, or −1 for a level the format does not declare. */
    private final int[] codeOf = new int[256];
    /** Nibble steps per short chunk: each of a chunk's two accumulators sums 2·steps columns. */
    private final int steps;

    LevelTableInterleaved(ScaledLevels format, int bytesPerBlock) {
        this.format = format;
        this.bytesPerBlock = bytesPerBlock;
        this.weights = format.blockWeights();
        this.span = format.factorSpan();
        if (weights % BLOCK != 0 || span != 0 && span != 16 && span != 32) {
            throw new IllegalArgumentException("blocks of " + weights + " weights, factors per " + span);
        }
        this.factorBytes = span == 0 ? 0 : ROWS * (BLOCK / span);
        this.offsets = format.hasOffsets();
        if (offsets && span == 0) {
            throw new IllegalArgumentException("offsets need spans");
        }
        this.columnBytes = (offsets ? 2 : 1) * factorBytes + InterleavedLanes.NIBBLE_BYTES;
        this.dOffset = weights / BLOCK * columnBytes;
        this.blockBytes = dOffset + (offsets ? 8L : 4L) * ROWS;
        byte[] levels = format.levels();
        if (levels.length > 16) {
            throw new IllegalArgumentException(levels.length + " levels do not fit 4-bit codes");
        }
        int g = 0;
        int max = 1;
        for (byte l : levels) {
            g = gcd(g, Math.abs(l));
            max = Math.max(max, Math.abs(l));
        }
        this.unit = Math.max(g, 1);
        Arrays.fill(codeOf, -1);
        for (int c = 0; c < levels.length; c++) {
            table[c] = (short) (levels[c] / unit);
            codeOf[levels[c] & 0xFF] = c;
        }
        // a chunk's accumulator sums 2·steps columns of |level/unit|·127: exact in a short while ≤ 32767
        int largest = max / unit;
        int s = 8;
        while (s > 1 && 2 * s * largest * 127 > Short.MAX_VALUE) {
            s /= 2;
        }
        this.steps = s;
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
                    }
                    InterleavedLanes.put(codes, dst, co + codesOffset(), j);
                }
            }
        }
    }

    /** Where the codes start in a 32-column block: after the factors and offsets. */
    private int codesOffset() {
        return columnBytes - InterleavedLanes.NIBBLE_BYTES;
    }

    @Override
    public void dot(MemorySegment packed, long offset, int cols, QuantizedInput x, float[] out, int outOff, int rows) {
        InterleavedLanes.Scratch scratch = InterleavedLanes.scratch();
        float[] acc = scratch.acc;
        float[] blockSums = scratch.t;
        // per 32 columns: the rows' sums over columns 0-15 in halves[0..32), over 16-31 in halves[32..64)
        float[] halves = scratch.sums;
        // Σ_spans offset·d_x·Σ x_q per row, for the rows' dmin
        float[] offsetSums = scratch.offsets;
        ShortVector lookup = ShortVector.fromArray(InterleavedLanes.S, table, 0);
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
                halfSums(packed, co + codesOffset(), x.levels(), xb * BLOCK, lookup, steps, halves);
                addFactored(packed, co, x.scale(xb), halves, blockSums);
                if (offsets) {
                    addOffsets(packed, co + factorBytes, x, xb, offsetSums);
                }
            }
            for (int p = 0; p < ROWS; p += 16) {
                FloatVector d = FloatVector.fromMemorySegment(InterleavedLanes.F, packed, o + dOffset + 4L * p,
                        ByteOrder.LITTLE_ENDIAN);
                FloatVector a = FloatVector.fromArray(InterleavedLanes.F, blockSums, p)
                        .fma(d, FloatVector.fromArray(InterleavedLanes.F, acc, p));
                if (offsets) {
                    FloatVector dmin = FloatVector.fromMemorySegment(InterleavedLanes.F, packed,
                            o + dOffset + 4L * (ROWS + p), ByteOrder.LITTLE_ENDIAN);
                    a = a.sub(FloatVector.fromArray(InterleavedLanes.F, offsetSums, p).mul(dmin));
                }
                a.intoArray(acc, p);
            }
        }
        System.arraycopy(acc, 0, out, outOff, rows);
    }

    /** sums[j] += dx · (the rows' factors times their half sums), for the 32 rows. */
    private void addFactored(MemorySegment packed, long co, float dx, float[] halves, float[] sums) {
        for (int p = 0; p < ROWS; p += 16) {
            FloatVector lo = FloatVector.fromArray(InterleavedLanes.F, halves, p);
            FloatVector hi = FloatVector.fromArray(InterleavedLanes.F, halves, ROWS + p);
            FloatVector t;
            if (span == 16) {
                t = hi.fma(InterleavedLanes.bytesAsFloats(packed, co + ROWS + p),
                        lo.mul(InterleavedLanes.bytesAsFloats(packed, co + p)));
            } else if (span == 32) {
                t = lo.add(hi).mul(InterleavedLanes.bytesAsFloats(packed, co + p));
            } else {
                t = lo.add(hi);
            }
            t.mul(dx).add(FloatVector.fromArray(InterleavedLanes.F, sums, p)).intoArray(sums, p);
        }
    }

    /** sums[j] += d_x · Σ_spans offset_j · (the span's activation level sum), for the 32 rows. */
    private void addOffsets(MemorySegment packed, long oo, QuantizedInput x, int xb, float[] sums) {
        float dx = x.scale(xb);
        for (int p = 0; p < ROWS; p += 16) {
            FloatVector t;
            if (span == 16) {
                t = InterleavedLanes.bytesAsFloats(packed, oo + p).mul((float) x.halfSum(xb, 0))
                        .add(InterleavedLanes.bytesAsFloats(packed, oo + ROWS + p).mul((float) x.halfSum(xb, 1)));
            } else {
                t = InterleavedLanes.bytesAsFloats(packed, oo + p).mul((float) x.sum(xb));
            }
            t.mul(dx).add(FloatVector.fromArray(InterleavedLanes.F, sums, p)).intoArray(sums, p);
        }
    }

    /**
     * The 32 rows' Σ level·a over columns 0-15 into out[0..32) and over 16-31 into out[32..64), as floats (exact:
     * |sum| < 2^24), for the nibble group at off and the activation levels a[ao .. ao+32).
     */
    private static void halfSums(MemorySegment g, long off, short[] a, int ao, ShortVector lookup, int steps, float[] out) {
        IntVector lo0 = IntVector.zero(IntVector.SPECIES_512);
        IntVector lo1 = lo0;
        IntVector hi0 = lo0;
        IntVector hi1 = lo0;
        for (int k0 = 0; k0 < 8; k0 += steps) {
            ShortVector lo = ShortVector.zero(InterleavedLanes.S);
            ShortVector hi = lo;
            for (int k = k0; k < k0 + steps; k++) {
                ShortVector v = ShortVector.fromMemorySegment(InterleavedLanes.S, g, off + k * 64L, ByteOrder.LITTLE_ENDIAN);
                IntVector w = v.reinterpretAsInts();
                lo = lo.add(v.and((short) 15).selectFrom(lookup).mul(a[ao + k]))
                        .add(nibble(w, 4).selectFrom(lookup).mul(a[ao + k + 8]));
                hi = hi.add(nibble(w, 8).selectFrom(lookup).mul(a[ao + k + 16]))
                        .add(nibble(w, 12).selectFrom(lookup).mul(a[ao + k + 24]));
            }
            lo0 = lo0.add((IntVector) lo.convertShape(VectorOperators.S2I, IntVector.SPECIES_512, 0));
            lo1 = lo1.add((IntVector) lo.convertShape(VectorOperators.S2I, IntVector.SPECIES_512, 1));
            hi0 = hi0.add((IntVector) hi.convertShape(VectorOperators.S2I, IntVector.SPECIES_512, 0));
            hi1 = hi1.add((IntVector) hi.convertShape(VectorOperators.S2I, IntVector.SPECIES_512, 1));
        }
        ((FloatVector) lo0.convert(VectorOperators.I2F, 0)).intoArray(out, 0);
        ((FloatVector) lo1.convert(VectorOperators.I2F, 0)).intoArray(out, 16);
        ((FloatVector) hi0.convert(VectorOperators.I2F, 0)).intoArray(out, 32);
        ((FloatVector) hi1.convert(VectorOperators.I2F, 0)).intoArray(out, 48);
    }

    /** Bits shift .. shift+3 of each short of w, as shorts. */
    private static ShortVector nibble(IntVector w, int shift) {
        return w.lanewise(VectorOperators.LSHR, shift).and(0x000F000F).reinterpretAsShorts();
    }
}
