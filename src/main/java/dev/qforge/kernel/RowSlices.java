package dev.qforge.kernel;

/**
 * Where the GEMM gets F32 weights from: a slice of columns of one row, converted (F16/BF16) or
 * dequantized (block formats) into a float scratch. The GEMM converts each slice once and reuses it
 * across all tokens of the batch, so this call is off the hot path.
 */
@FunctionalInterface
interface RowSlices {
    /** Writes W[row, col0 .. col0+count) as floats to dst[dstOff ..]; col0 and count respect the format's block size. */
    void toF32(int row, int col0, int count, float[] dst, int dstOff);
}
