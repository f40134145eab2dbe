package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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
        long rowBytes = f.rowBytes(cols);
        MemorySegment data = MemorySegment.ofArray(new byte[(int) (rows * rowBytes)]);
        float[] w = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                w[c] = (float) rnd.nextGaussian() * 0.02f;
            }
            f.quantize(w, 0, cols, null, data, r * rowBytes);
        }
        WeightMatrix m = new WeightMatrix("test." + name, f, rows, cols, data);
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
}
