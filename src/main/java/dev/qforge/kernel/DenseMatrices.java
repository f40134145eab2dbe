package dev.qforge.kernel;

import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * Row-major float matrices held in arrays, for the linear algebra of quantization (factorizations, rotations):
 * products run on the runtime's GEMM and all threads.
 */
public final class DenseMatrices {
    private DenseMatrices() {
    }

    /** x · wᵀ, [xRows × wRows], for w [wRows × k] and x [xRows × k]. */
    public static float[] timesTransposed(float[] x, int xRows, float[] w, int wRows) {
        int k = w.length / wRows;
        float[] out = new float[xRows * wRows];
        Tensor weight = new Tensor("dense matrix", DType.F32, new long[]{wRows, k}, MemorySegment.ofArray(w));
        MatMul.matmul(weight, x, xRows, out);
        return out;
    }

    /** mᵀ of the row-major m [rows × cols]. */
    public static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = m[r * cols + c];
            }
        }
        return t;
    }
}
