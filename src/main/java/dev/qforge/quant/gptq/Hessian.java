package dev.qforge.quant.gptq;

import dev.qforge.kernel.MatMul;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;

import java.lang.foreign.MemorySegment;

/**
 * GPTQ's proxy Hessian of one linear layer's input: H = Σ x xᵀ over the calibration tokens (the reference
 * code's 2/n factor is left out: GPTQ's result does not depend on H's scale, and damping is relative to its
 * mean diagonal). Linears that read the same input (q, k, v; gate, up) share one. The sum is a GEMM of the
 * batch's transpose with itself, so it runs on the runtime's matrix kernels and all threads.
 */
public final class Hessian {
    private final int cols;
    private final float[] sum;
    private long tokens;
    private float[] transposed = new float[0];
    private float[] product = new float[0];

    public Hessian(int cols) {
        this.cols = cols;
        this.sum = new float[Math.multiplyExact(cols, cols)];
    }

    public int cols() {
        return cols;
    }

    /** Tokens added so far. */
    public long tokens() {
        return tokens;
    }

    /** Adds {@code rows} inputs of {@code cols} floats each, row after row, from x[0 ..]. */
    public synchronized void add(float[] x, int rows) {
        if (rows == 0) {
            return;
        }
        int n = rows;
        if (transposed.length < n * cols) {
            transposed = new float[n * cols];
        }
        for (int t = 0; t < n; t++) {
            for (int c = 0; c < cols; c++) {
                transposed[c * n + t] = x[t * cols + c];
            }
        }
        if (product.length < cols * cols) {
            product = new float[cols * cols];
        }
        // product[i*cols + j] = Σ_t xᵀ[j][t]·xᵀ[i][t]: the transposed batch as both the weight and the input.
        Tensor xt = new Tensor("calibration inputs", DType.F32, new long[]{cols, n},
                MemorySegment.ofArray(transposed).asSlice(0, 4L * n * cols));
        MatMul.matmul(xt, transposed, cols, product);
        for (int i = 0; i < sum.length; i++) {
            sum[i] += product[i];
        }
        tokens += rows;
    }

    /** The accumulated Σ x xᵀ, [cols × cols], row-major (the array itself: callers copy before changing it). */
    public float[] sum() {
        return sum;
    }

    /** Mean x² per input column: the diagonal over the token count, what llama.cpp's imatrix holds. */
    public float[] meanSquares() {
        float[] d = new float[cols];
        for (int i = 0; i < cols; i++) {
            d[i] = tokens == 0 ? 0 : (float) (sum[i * cols + i] / tokens);
        }
        return d;
    }
}
