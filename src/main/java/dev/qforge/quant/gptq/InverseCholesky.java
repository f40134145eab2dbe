package dev.qforge.quant.gptq;

import dev.qforge.kernel.DenseMatrices;
import dev.qforge.kernel.Parallel;

/**
 * The factor GPTQ's error feedback runs on: U, upper triangular, with (H + λI)⁻¹ = UᵀU. Row j of U says how
 * the rounding error of column j spreads to the columns after it, and U[j][j] scales that error.
 *
 * <p>No inverse of H is formed. With J the reversal permutation, chol(JHJ) = L gives H = (JLJ)(JLJ)ᵀ with
 * JLJ upper triangular, so U = (JLJ)⁻¹ = J·L⁻¹·J; and JHJ of a row-major matrix is its flat array reversed.
 *
 * <p>All of it happens in H's own array, because for the widest inputs (an 8192- or 14336-wide down
 * projection) a second n² array is what decides whether a model fits the heap: the lower triangle holds the
 * matrix being factored, the diagonal and upper triangle receive L⁻ᵀ as it is made, and at the end U is read
 * off the upper triangle by an anti-transpose in place (U[i][j] = L⁻¹[n−1−i][n−1−j] = L⁻ᵀ[n−1−j][n−1−i]).
 * The factorization recurses on halves (L₂₁ = A₂₁·L₁₁⁻ᵀ, A₂₂ −= L₂₁L₂₁ᵀ, L⁻¹₂₁ = −L₂₂⁻¹·L₂₁·L₁₁⁻¹), so that
 * almost all of its n³·2/3 multiply-adds are matrix products on the runtime's GEMM and all threads; its
 * temporaries are a quarter of H at most. Blocks of up to {@link #BASE} are factored directly in double.
 */
public final class InverseCholesky {
    static final int BASE = 128;
    /** Rows per matrix product where a product's output would otherwise be a whole quarter of H. */
    private static final int BAND = 512;

    private InverseCholesky() {
    }

    /**
     * U as floats [n × n] row-major (zeros below the diagonal) for H + λI, or null when that is not positive
     * definite. {@code h} is left as it was.
     */
    public static float[] of(float[] h, int n, double lambda) {
        float[] a = h.clone();
        return ofConsuming(a, n, lambda) ? a : null;
    }

    /**
     * As {@link #of}, but U is made in {@code a} itself (H, row-major, symmetric): true when it is there,
     * false (and {@code a} destroyed) when H + λI is not positive definite.
     */
    public static boolean ofConsuming(float[] a, int n, double lambda) {
        for (int i = 0; i < n; i++) {
            a[i * n + i] += (float) lambda;
        }
        reverse(a, n * n);
        if (!factor(a, n, 0, n)) {
            return false;
        }
        antiTransposeUpper(a, n);
        Parallel.forRange(n, i -> java.util.Arrays.fill(a, i * n, i * n + i, 0f));
        return true;
    }

    private static void reverse(float[] a, int len) {
        for (int i = 0, j = len - 1; i < j; i++, j--) {
            float t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** Swaps (i, j) with (n−1−j, n−1−i) over the upper triangle (diagonal included): an involution there. */
    private static void antiTransposeUpper(float[] a, int n) {
        Parallel.forRange(n, i -> {
            for (int j = i; j < n; j++) {
                int pi = n - 1 - j;
                int pj = n - 1 - i;
                // each pair once: from the member whose row is smaller (or, on the anti-diagonal's fixed
                // points, not at all)
                if (i < pi || (i == pi && j < pj)) {
                    int x = i * n + j;
                    int y = pi * n + pj;
                    float t = a[x];
                    a[x] = a[y];
                    a[y] = t;
                }
            }
        });
    }

    /**
     * Factors the diagonal block [o, o+m) of a (stride n), whose lower triangle holds the symmetric matrix:
     * L⁻ᵀ goes into the block's diagonal and upper triangle; the lower triangle is left as scratch. False if
     * a pivot is not positive.
     */
    private static boolean factor(float[] a, int n, int o, int m) {
        if (m <= BASE) {
            return factorDirect(a, n, o, m);
        }
        int h = m / 2;
        int m2 = m - h;
        if (!factor(a, n, o, h)) {
            return false;
        }
        // L21 = A21 · L11⁻ᵀ (the product's weight is L11⁻¹, the transpose of what the block holds)
        float[] l21 = DenseMatrices.timesTransposed(copy(a, n, o + h, o, m2, h), m2, inverseOf(a, n, o, h), h);
        // A22 −= L21 · L21ᵀ, in bands of rows (only its lower triangle is read later, but the product is whole)
        for (int r0 = 0; r0 < m2; r0 += BAND) {
            int b = Math.min(BAND, m2 - r0);
            float[] band = java.util.Arrays.copyOfRange(l21, r0 * h, (r0 + b) * h);
            addTo(DenseMatrices.timesTransposed(band, b, l21, m2), a, n, o + h + r0, o + h, b, m2, -1);
        }
        // T = L21 · L11⁻¹ (weight: L11⁻ᵀ, the block's upper triangle as it stands), waiting in the upper-right
        // block as Tᵀ through the recursion, where (L⁻¹21)ᵀ will go
        float[] t = DenseMatrices.timesTransposed(l21, m2, copyUpper(a, n, o, h), h);
        l21 = null;
        for (int i = 0; i < h; i++) {
            int row = (o + i) * n + o + h;
            for (int j = 0; j < m2; j++) {
                a[row + j] = t[j * h + i];
            }
        }
        t = null;
        if (!factor(a, n, o + h, m2)) {
            return false;
        }
        // (L⁻¹21)ᵀ = −(L22⁻¹ · T)ᵀ = −Tᵀ · L22⁻ᵀ, a band of Tᵀ's rows at a time (weight: L22⁻¹)
        float[] l22inv = inverseOf(a, n, o + h, m2);
        for (int r0 = 0; r0 < h; r0 += BAND) {
            int b = Math.min(BAND, h - r0);
            float[] x = DenseMatrices.timesTransposed(copy(a, n, o + r0, o + h, b, m2), b, l22inv, m2);
            for (int r = 0; r < b; r++) {
                int row = (o + r0 + r) * n + o + h;
                for (int c = 0; c < m2; c++) {
                    a[row + c] = -x[r * m2 + c];
                }
            }
        }
        return true;
    }

    private static float[] copy(float[] a, int n, int row, int col, int rows, int cols) {
        float[] b = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(a, (row + r) * n + col, b, r * cols, cols);
        }
        return b;
    }

    /** The factored block's L⁻ᵀ (its diagonal and upper triangle) as a dense [m × m] with zeros below. */
    private static float[] copyUpper(float[] a, int n, int o, int m) {
        float[] b = new float[m * m];
        for (int r = 0; r < m; r++) {
            System.arraycopy(a, (o + r) * n + o + r, b, r * m + r, m - r);
        }
        return b;
    }

    /** L⁻¹ of a factored block: the transpose of its diagonal and upper triangle, dense with zeros above. */
    private static float[] inverseOf(float[] a, int n, int o, int m) {
        float[] b = new float[m * m];
        Parallel.forRange(m, i -> {
            for (int j = 0; j <= i; j++) {
                b[i * m + j] = a[(o + j) * n + o + i];
            }
        });
        return b;
    }

    /** a[block] += sign · b. */
    private static void addTo(float[] b, float[] a, int n, int row, int col, int rows, int cols, int sign) {
        for (int r = 0; r < rows; r++) {
            int ar = (row + r) * n + col;
            for (int c = 0; c < cols; c++) {
                a[ar + c] += sign * b[r * cols + c];
            }
        }
    }

    /** The base case in double: Cholesky of the block and the inverse of its factor, stored as L⁻ᵀ. */
    private static boolean factorDirect(float[] a, int n, int o, int m) {
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
            for (int j = i; j < m; j++) {
                a[(o + i) * n + o + j] = (float) li[j * m + i];
            }
        }
        return true;
    }
}
