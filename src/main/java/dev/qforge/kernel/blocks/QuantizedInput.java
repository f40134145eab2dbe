package dev.qforge.kernel.blocks;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * An activation vector quantized the way ggml quantizes it for integer dot products (its Q8_0): blocks of
 * 32 values, each block a scale d = max|x| / 127 and levels round(x / d) in [-127, 127]. Also keeps each
 * block's level sum, which the formats with offsets or minimums subtract in one step instead of per weight.
 *
 * <p>Levels are held as shorts because the interleaved kernels broadcast one level to 32 short lanes.
 * Rounding is C's roundf (half away from zero), so the levels are those of ggml's reference
 * quantize_row_q8_0 for the same floats. Where this differs from llama.cpp's decode: its AVX path rounds
 * ties to even, it stores d as f16 (kept in f32 here), and it pairs the K-quants with Q8_K, one scale per
 * 256 values instead of per 32.
 */
public final class QuantizedInput {
    public static final int BLOCK = 32;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;

    private short[] levels = new short[0];
    private float[] scales = new float[0];
    private int[] sums = new int[0];
    private int[] firstHalfSums = new int[0];
    private int length;
    /** The pair tables last built from these levels, and for which level set (null: none since the last set). */
    private volatile PairTables tablesKey;
    private short[] tables = new short[0];

    /** Quantizes x[off .. off + n) (n a multiple of 32) into this, reusing its arrays. */
    public QuantizedInput set(float[] x, int off, int n) {
        resize(n);
        setBlocks(x, off, 0, n / BLOCK);
        return this;
    }

    /**
     * Makes this hold n levels (a multiple of 32), reusing its arrays, without quantizing anything yet: the blocks are
     * then filled by {@link #setBlocks}, possibly by several threads, each its own blocks. Until all blocks are set the
     * contents are stale.
     */
    public QuantizedInput resize(int n) {
        if (n % BLOCK != 0) {
            throw new IllegalArgumentException("activation length " + n + " is not a multiple of " + BLOCK);
        }
        if (levels.length < n) {
            levels = new short[n];
            scales = new float[n / BLOCK];
            sums = new int[n / BLOCK];
            firstHalfSums = new int[n / BLOCK];
        }
        length = n;
        tablesKey = null;
        return this;
    }

    /** Quantizes blocks [from, to) of x (block b is x[off + 32b .. off + 32b + 32)) into this, after {@link #resize}. */
    public void setBlocks(float[] x, int off, int from, int to) {
        for (int b = from; b < to; b++) {
            quantizeBlock(x, off + b * BLOCK, b);
        }
    }

    /**
     * Block b from x[base .. base+32), in vector lanes (decode quantizes every matrix's input, a few µs each when
     * done a float at a time). Rounding half away from zero exactly as roundf: the truncated magnitude plus one
     * where the dropped fraction is at least a half (a − trunc(a) is exact in a float below 2^23), the magnitude
     * first capped at 127 so that an infinite 1/d (max|x| below ~4e-37) stays in range as ggml's clamp keeps it.
     */
    private void quantizeBlock(float[] x, int base, int b) {
        FloatVector v0 = FloatVector.fromArray(F, x, base);
        FloatVector v1 = FloatVector.fromArray(F, x, base + 16);
        float amax = v0.abs().max(v1.abs()).reduceLanes(VectorOperators.MAX);
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        IntVector q0 = levels(v0.mul(id));
        IntVector q1 = levels(v1.mul(id));
        ((ShortVector) q0.convertShape(VectorOperators.I2S, ShortVector.SPECIES_256, 0)).intoArray(levels, b * BLOCK);
        ((ShortVector) q1.convertShape(VectorOperators.I2S, ShortVector.SPECIES_256, 0)).intoArray(levels, b * BLOCK + 16);
        int firstHalf = q0.reduceLanes(VectorOperators.ADD);
        firstHalfSums[b] = firstHalf;
        sums[b] = firstHalf + q1.reduceLanes(VectorOperators.ADD);
        scales[b] = d;
    }

    /** round-half-away(s) in [-127, 127] per lane (NaN → 0, as Math.round). */
    private static IntVector levels(FloatVector s) {
        FloatVector a = s.abs().min(127f);
        IntVector t = (IntVector) a.convert(VectorOperators.F2I, 0);
        FloatVector dropped = a.sub((FloatVector) t.convert(VectorOperators.I2F, 0));
        IntVector rounded = t.add(1, dropped.compare(VectorOperators.GE, 0.5f).cast(I));
        return rounded.lanewise(VectorOperators.NEG, s.compare(VectorOperators.LT, 0f).cast(I));
    }

    public int length() {
        return length;
    }

    /** Level i (the array is longer than {@link #length()}; read only the first length). */
    public short[] levels() {
        return levels;
    }

    public float scale(int block) {
        return scales[block];
    }

    public int sum(int block) {
        return sums[block];
    }

    /**
     * The {@link PairTables} of these levels for key's level set, built on the first call after {@link #set} (once
     * even when the threads of one product ask together; callers that dispatch threads build it before).
     */
    short[] pairTables(PairTables key) {
        if (tablesKey != key) {
            synchronized (this) {
                if (tablesKey != key) {
                    tables = key.build(levels, length, tables);
                    tablesKey = key;
                }
            }
        }
        return tables;
    }

    /** The level sum of half h (0: levels 0-15, 1: levels 16-31) of a block: what offsets per 16 weights multiply. */
    public int halfSum(int block, int h) {
        return h == 0 ? firstHalfSums[block] : sums[block] - firstHalfSums[block];
    }
}
