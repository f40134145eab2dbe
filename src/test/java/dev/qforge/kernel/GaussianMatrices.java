package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.util.Random;

/** Test matrices: Gaussian weights (σ 0.02, an LLM's scale) quantized row by row into a block format. */
final class GaussianMatrices {
    private GaussianMatrices() {
    }

    /** rows × cols weights quantized to f into data (at least rows · f.rowBytes(cols) bytes, heap or native). */
    static WeightMatrix quantized(BlockFormat f, int rows, int cols, Random rnd, MemorySegment data) {
        long rowBytes = f.rowBytes(cols);
        float[] w = new float[cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                w[c] = (float) rnd.nextGaussian() * 0.02f;
            }
            f.quantize(w, 0, cols, null, data, r * rowBytes);
        }
        return new WeightMatrix("test." + f.name(), f, rows, cols, data);
    }
}
