package dev.qforge.quant.gptq;

/**
 * The factor GPTQ's error feedback runs on: U, upper triangular, with (H + λI)⁻¹ = UᵀU. Row j of U says how
 * the rounding error of column j spreads to the columns after it, and U[j][j] scales that error. Computed in
 * double: the three cubic steps (Cholesky of H, triangular inverse, Cholesky of the inverse) lose precision
 * on the ill-conditioned Hessians of real activations, which a float version turns into NaN.
 */
public final class InverseCholesky {
    private InverseCholesky() {
    }

    /** U as floats [n × n] row-major (zeros below the diagonal), or null when H + λI is not positive definite. */
    public static float[] of(float[] h, int n, double lambda) {
        double[] a = new double[n * n];
        for (int i = 0; i < n * n; i++) {
            a[i] = h[i];
        }
        for (int i = 0; i < n; i++) {
            a[i * n + i] += lambda;
        }
        if (!choleskyLowerInPlace(a, n)) {
            return null;
        }
        double[] inv = lowerInverse(a, n);
        // (LLᵀ)⁻¹ = L⁻ᵀ L⁻¹: entry (i, j) = Σ_k≥max(i,j) inv[k][i]·inv[k][j]
        double[] hinv = new double[n * n];
        for (int k = 0; k < n; k++) {
            int rk = k * n;
            for (int i = 0; i <= k; i++) {
                double v = inv[rk + i];
                if (v == 0) {
                    continue;
                }
                int ri = i * n;
                for (int j = 0; j <= i; j++) {
                    hinv[ri + j] += v * inv[rk + j];
                }
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                hinv[i * n + j] = hinv[j * n + i];
            }
        }
        if (!choleskyLowerInPlace(hinv, n)) {
            return null;
        }
        float[] u = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = i; j < n; j++) {
                u[i * n + j] = (float) hinv[j * n + i];
            }
        }
        return u;
    }

    /** a = L·Lᵀ, L written into the lower triangle (upper triangle zeroed); false if a pivot is not positive. */
    static boolean choleskyLowerInPlace(double[] a, int n) {
        for (int j = 0; j < n; j++) {
            int rj = j * n;
            double d = a[rj + j];
            for (int k = 0; k < j; k++) {
                d -= a[rj + k] * a[rj + k];
            }
            if (!(d > 0)) {
                return false;
            }
            double ljj = Math.sqrt(d);
            a[rj + j] = ljj;
            for (int i = j + 1; i < n; i++) {
                int ri = i * n;
                double s = a[ri + j];
                for (int k = 0; k < j; k++) {
                    s -= a[ri + k] * a[rj + k];
                }
                a[ri + j] = s / ljj;
            }
        }
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                a[i * n + j] = 0;
            }
        }
        return true;
    }

    /** The inverse of the lower-triangular l. */
    static double[] lowerInverse(double[] l, int n) {
        double[] inv = new double[n * n];
        for (int j = 0; j < n; j++) {
            inv[j * n + j] = 1 / l[j * n + j];
            for (int i = j + 1; i < n; i++) {
                int ri = i * n;
                double s = 0;
                for (int k = j; k < i; k++) {
                    s += l[ri + k] * inv[k * n + j];
                }
                inv[ri + j] = -s / l[ri + i];
            }
        }
        return inv;
    }
}
