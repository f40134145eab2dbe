package dev.qforge.kernel;

import dev.qforge.tensor.WeightMatrix;

/**
 * Matrix multiplication for block-quantized weights, reading the blocks in place (no dequantized copy of
 * the model): a decode step takes each row's dot product with the format's own kernel; a small batch
 * dequantizes each row once into a scratch and dots it with every token; a large batch hands the GEMM a
 * dequantizing slice source, so each block is expanded once per batch. Formats with an interleaved
 * decode layout take the single-token case to {@link InterleavedMatVec} instead.
 */
final class BlockMatMul {
    /** Below this many tokens, dequantize-a-row-then-dot beats packing for the GEMM. */
    private static final int GEMM_MIN_TOKENS = 8;
    private static final int ROWS_PER_TASK = 16;

    private BlockMatMul() {
    }

    static void run(WeightMatrix w, float[] x, int n, float[] out) {
        if (n == 1 && InterleavedMatVec.supports(w)) {
            InterleavedMatVec.run(w, x, out);
            return;
        }
        int rows = w.rows();
        int cols = w.cols();
        long rowBytes = w.rowBytes();
        if (OneDnnGemm.takes(n) && OneDnnGemm.blocks(w, x, n, out)) {
            return;
        }
        if (n >= GEMM_MIN_TOKENS) {
            Gemm.run((row, col0, count, dst, dstOff) -> w.format().dequantize(w.data(),
                    row * rowBytes + w.format().rowBytes(col0), count, dst, dstOff), rows, cols, x, n, out);
            return;
        }
        int tasks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        if (n == 1) {
            Parallel.forRange(tasks, t -> {
                for (int r = t * ROWS_PER_TASK, end = Math.min(rows, r + ROWS_PER_TASK); r < end; r++) {
                    out[r] = w.format().dot(w.data(), r * rowBytes, cols, x, 0);
                }
            });
            return;
        }
        Parallel.forRange(tasks, t -> {
            float[] row = MatMul.rowBuffer(cols);
            for (int r = t * ROWS_PER_TASK, end = Math.min(rows, r + ROWS_PER_TASK); r < end; r++) {
                w.copyRowTo(r, row, 0);
                for (int k = 0; k < n; k++) {
                    out[k * rows + r] = VectorMath.dot(row, 0, x, k * cols, cols);
                }
            }
        });
    }
}
