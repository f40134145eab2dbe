package dev.qforge.quant.gptq;

import dev.qforge.kernel.DenseMatrices;

/**
 * The factor GPTQ's error feedback runs on: U, upper triangular, with (H + λI)⁻¹ = UᵀU. Row j of U says how
 * the rounding error of column j spreads to the columns after it, and U[j][j] scales that error.
 *
 * <p>No inverse of H is formed. With J the reversal permutation, chol(JHJ) = L gives H = (JLJ)(JLJ)ᵀ with
 * JLJ upper triangular, so U = (JLJ)⁻¹ = J·L⁻¹·J; and JHJ of a row-major matrix is its flat array reversed.
 * So: reverse, factor L and L⁻¹ together, reverse L⁻¹ — in the Hessian's own array plus one more of its
 * size. The factorization recurses on halves (L₂₁ = A₂₁·L₁₁⁻ᵀ, A₂₂ −= L₂₁L₂₁ᵀ, L⁻¹₂₁ = −L₂₂⁻¹·L₂₁·L₁₁⁻¹) so
 * that almost all of its n³·2/3 multiply-adds are matrix products on the runtime's GEMM and all threads;
 * blocks of up to {@link #BASE} are factored directly in double.
 */
public final class InverseCholesky {
    static final int BASE = 128;

    private InverseCholesky() {
    }

    /**
     * U as floats [n × n] row-major (zeros below the diagonal) for H + λI, or null when that is not positive
     * definite. {@code h} is left as it was.
     */
    public static float[] of(float[] h, int n, double lambda) {
        float[] a = h.clone();
        return ofConsuming(a, n, lambda);
    }

    /** As {@link #of}, but {@code a} (H, row-major) is used as working memory and destroyed. */
    public static float[] ofConsuming(float[] a, int n, double lambda) {
        for (int i = 0; i < n; i++) {
            a[i * n + i] += (float) lambda;
        }
        reverse(a, n * n);
        float[] inv = new float[n * n];
        if (!factor(a, inv, n, 0, n)) {
            return null;
        }
        reverse(inv, n * n);
        return inv;
    }

    private static void reverse(float[] a, int len) {
        for (int i = 0, j = len - 1; i < j; i++, j--) {
            float t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /**
     * Factors the diagonal block [o, o+m) of the symmetric a (stride n): L into its lower triangle, L⁻¹ into
     * the same block of inv. False if a pivot is not positive.
     */
    private static boolean factor(float[] a, float[] inv, int n, int o, int m) {
        if (m <= BASE) {
            return factorDirect(a, inv, n, o, m);
        }
        int h = m / 2;
        int m2 = m - h;
        if (!factor(a, inv, n, o, h)) {
            return false;
        }
        float[] l11inv = copy(inv, n, o, o, h, h);
        // L21 = A21 · L11⁻ᵀ: each row of A21 times the rows of L11⁻¹
        float[] l21 = DenseMatrices.timesTransposed(copy(a, n, o + h, o, m2, h), m2, l11inv, h);
        paste(l21, a, n, o + h, o, m2, h, 1);
        // A22 −= L21 · L21ᵀ
        paste(DenseMatrices.timesTransposed(l21, m2, l21, m2), a, n, o + h, o + h, m2, m2, -1, true);
        // T = L21 · L11⁻¹, needed after the recursion; made now so only T, not L21 and L11⁻¹, waits through it
        float[] t = DenseMatrices.timesTransposed(l21, m2, DenseMatrices.transpose(l11inv, h, h), h);
        l21 = null;
        l11inv = null;
        if (!factor(a, inv, n, o + h, m2)) {
            return false;
        }
        // L⁻¹21 = −L22⁻¹ · T
        float[] tt = DenseMatrices.transpose(t, m2, h);
        t = null;
        float[] x = DenseMatrices.timesTransposed(copy(inv, n, o + h, o + h, m2, m2), m2, tt, h);
        paste(x, inv, n, o + h, o, m2, h, -1);
        return true;
    }

    private static float[] copy(float[] a, int n, int row, int col, int rows, int cols) {
        float[] b = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(a, (row + r) * n + col, b, r * cols, cols);
        }
        return b;
    }

    /** a[block] = sign · b. */
    private static void paste(float[] b, float[] a, int n, int row, int col, int rows, int cols, int sign) {
        for (int r = 0; r < rows; r++) {
            int ar = (row + r) * n + col;
            for (int c = 0; c < cols; c++) {
                a[ar + c] = sign * b[r * cols + c];
            }
        }
    }

    /** a[block] += sign · b (accumulate). */
    private static void paste(float[] b, float[] a, int n, int row, int col, int rows, int cols, int sign, boolean add) {
        for (int r = 0; r < rows; r++) {
            int ar = (row + r) * n + col;
            for (int c = 0; c < cols; c++) {
                a[ar + c] += sign * b[r * cols + c];
            }
        }
    }

    /** The base case in double: Cholesky of the block and the inverse of its factor. */
    private static boolean factorDirect(float[] a, float[] inv, int n, int o, int m) {
        double[] l = new double[m * m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j <= i; j++) {
                l[i * m + j] = a[(o + i) * n + o + j];
            }
        }
        for (int j = 0; j < m; j++) {
            double d = l[j * m + j];
            for (int k = 0; k < j; k++) {
                d -= l[j * m + k] * l[j * m + k];
            }
            if (!(d > 0)) {
                return false;
            }
            double ljj = Math.sqrt(d);
            l[j * m + j] = ljj;
            for (int i = j + 1; i < m; i++) {
                double s = l[i * m + j];
                for (int k = 0; k < j; k++) {
                    s -= l[i * m + k] * l[j * m + k];
                }
                l[i * m + j] = s / ljj;
            }
        }
        double[] li = new double[m * m];
        for (int j = 0; j < m; j++) {
            li[j * m + j] = 1 / l[j * m + j];
            for (int i = j + 1; i < m; i++) {
                double s = 0;
                for (int k = j; k < i; k++) {
                    s += l[i * m + k] * li[k * m + j];
                }
                li[i * m + j] = -s / l[i * m + i];
            }
        }
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < m; j++) {
                a[(o + i) * n + o + j] = j <= i ? (float) l[i * m + j] : 0f;
                inv[(o + i) * n + o + j] = j <= i ? (float) li[i * m + j] : 0f;
            }
        }
        return true;
    }
}
