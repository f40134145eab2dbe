package dev.qforge.kernel.blocks;

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

    private short[] levels = new short[0];
    private float[] scales = new float[0];
    private int[] sums = new int[0];
    private int[] firstHalfSums = new int[0];
    private int length;

    /** Quantizes x[off .. off + n) (n a multiple of 32) into this, reusing its arrays. */
    public QuantizedInput set(float[] x, int off, int n) {
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
        for (int b = 0; b < n / BLOCK; b++) {
            int base = off + b * BLOCK;
            float amax = 0;
            for (int i = 0; i < BLOCK; i++) {
                amax = Math.max(amax, Math.abs(x[base + i]));
            }
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            int sum = 0;
            int firstHalf = 0;
            for (int i = 0; i < BLOCK; i++) {
                // clamped: a block with max|x| below ~4e-37 has an infinite 1/d (ggml leaves that undefined)
                int q = Math.max(-127, Math.min(127, Q8_0Format.roundHalfAway(x[base + i] * id)));
                levels[b * BLOCK + i] = (short) q;
                sum += q;
                if (i == BLOCK / 2 - 1) {
                    firstHalf = sum;
                }
            }
            firstHalfSums[b] = firstHalf;
            scales[b] = d;
            sums[b] = sum;
        }
        return this;
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

    /** The level sum of half h (0: levels 0-15, 1: levels 16-31) of a block: what offsets per 16 weights multiply. */
    public int halfSum(int block, int h) {
        return h == 0 ? firstHalfSums[block] : sums[block] - firstHalfSums[block];
    }
}
