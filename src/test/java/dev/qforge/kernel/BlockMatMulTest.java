package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Block-format products through {@link MatMul}: a single token (the interleaved int8 decode path where the
 * format has one) agrees with the same token in a batch (dequantized rows, float activations) within the
 * error of quantizing the activations to int8, over all threads and a last group of fewer than 32 rows;
 * and repeated calls give the same bits.
 */
class BlockMatMulTest {
    @ParameterizedTest
    @ValueSource(strings = {"Q4_0", "Q4_K", "Q6_K", "Q8_0", "Q5_K"})
    void oneTokenAgreesWithTheBatchPath(String name) {
        BlockFormat f = BlockFormats.byName(name);
        int rows = 200;
        int cols = 512;
        Random rnd = new Random(9);
        WeightMatrix m = GaussianMatrices.quantized(f, rows, cols, rnd,
                MemorySegment.ofArray(new byte[(int) (rows * f.rowBytes(cols))]));
        int n = 9; // a batch large enough for the dequantizing GEMM
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] batch = new float[n * rows];
        MatMul.matmul(m, x, n, batch);
        float[] single = new float[rows];
        MatMul.matmul(m, x, 1, single); // token 0 alone
        double err = 0;
        double norm = 0;
        for (int r = 0; r < rows; r++) {
            err += Math.pow(single[r] - batch[r], 2);
            norm += Math.pow(batch[r], 2);
        }
        // int8 activations of Gaussian x: the rounding step is about max|x|/127 ≈ 0.017σ per block of 32,
        // an error of ~0.5 % of each element, and so of the dot (measured 0.63 %); a wrong kernel is off by ~100 %
        double relative = Math.sqrt(err / norm);
        if (f.interleavedLayout() != null) {
            assertTrue(relative < 1.5e-2, name + ": relative error " + relative);
        } else {
            assertTrue(relative < 1e-5, name + ": float activations, relative error " + relative);
        }
        float[] again = new float[rows];
        MatMul.matmul(m, x, 1, again);
        assertArrayEquals(single, again, name + ": a second call gave other bits");
    }

    /**
     * The packed decode layout belongs to the matrix object: a matrix with the same name over memory at the
     * same address, after the first was freed (a model closed, another mapped in its place), gets its own.
     */
    @org.junit.jupiter.api.Test
    void aNewMatrixOverReusedMemoryIsPackedAgain() {
        BlockFormat f = BlockFormats.byName("Q4_0");
        int rows = 64;
        int cols = 256;
        long bytes = rows * f.rowBytes(cols);
        float[] x = new float[cols];
        java.util.Arrays.fill(x, 1f);
        float[][] results = new float[2][rows];
        long[] addresses = new long[2];
        for (int round = 0; round < 2; round++) {
            try (Arena arena = Arena.ofShared()) {
                MemorySegment data = arena.allocate(bytes, 64);
                float[] w = new float[cols];
                for (int r = 0; r < rows; r++) {
                    java.util.Arrays.fill(w, round == 0 ? 0.5f : -0.25f);
                    f.quantize(w, 0, cols, null, data, r * f.rowBytes(cols));
                }
                addresses[round] = data.address();
                MatMul.matmul(new WeightMatrix("blk.0.attn_q.weight", f, rows, cols, data), x, 1, results[round]);
            }
        }
        assertTrue(Math.abs(results[0][0] - 128f) < 1f, "first matrix: " + results[0][0]);
        assertTrue(Math.abs(results[1][0] + 64f) < 1f, "second matrix (address "
                + (addresses[0] == addresses[1] ? "reused" : "new") + "): " + results[1][0]);
    }

    @org.junit.jupiter.api.Test
    void aReleasedDecodeLayoutIsBuiltAgainOnTheNextToken() {
        BlockFormat f = BlockFormats.byName("Q4_K");
        int rows = 40;
        int cols = 256;
        MemorySegment data = MemorySegment.ofArray(new byte[(int) (rows * f.rowBytes(cols))]);
        float[] w = new float[cols];
        Random rnd = new Random(4);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                w[c] = (float) rnd.nextGaussian();
            }
            f.quantize(w, 0, cols, null, data, r * f.rowBytes(cols));
        }
        WeightMatrix m = new WeightMatrix("test.release", f, rows, cols, data);
        float[] x = new float[cols];
        java.util.Arrays.fill(x, 0.5f);
        float[] first = new float[rows];
        MatMul.matmul(m, x, 1, first);
        m.releaseDecodeLayout();
        m.releaseDecodeLayout(); // twice is harmless
        float[] again = new float[rows];
        MatMul.matmul(m, x, 1, again);
        assertArrayEquals(first, again);
    }
}
