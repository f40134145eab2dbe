package dev.qforge.quant.rotation;

import java.util.Random;

/**
 * Orthogonal matrices for rotating a model: randomized Hadamard matrices (QuaRot, QuIP#) — a Hadamard
 * matrix H of ±1 entries (HHᵀ = nI) with its rows' signs flipped at random, scaled by 1/√n. Built by
 * Sylvester's doubling for powers of two, times a Paley matrix for the other widths models use
 * (12·2^k, 20·2^k, 28·2^k, …: 768 = 12·64, 1536 = 12·128, 3584 = 28·128, 5120 = 20·256); where no such
 * construction exists, a random orthogonal matrix (Gram–Schmidt on Gaussian rows) serves, since the
 * rotation is folded into the weights and any orthogonal matrix keeps the model's function.
 */
public final class Hadamard {
    private Hadamard() {
    }

    /** A random orthogonal n × n matrix, row-major, from {@code seed}: randomized Hadamard where one exists. */
    public static float[] randomOrthogonal(int n, long seed) {
        Random r = new Random(seed);
        int[] h = matrix(n);
        float[] q = new float[n * n];
        if (h == null) {
            gramSchmidt(n, r, q);
            return q;
        }
        float scale = (float) (1 / Math.sqrt(n));
        for (int i = 0; i < n; i++) {
            float sign = r.nextBoolean() ? scale : -scale;
            for (int j = 0; j < n; j++) {
                q[i * n + j] = sign * h[i * n + j];
            }
        }
        return q;
    }

    /** A Hadamard matrix of order n (±1, HHᵀ = nI), row-major, or null when none of the constructions gives one. */
    public static int[] matrix(int n) {
        if (n < 1) {
            return null;
        }
        int pow = 1;
        while (n % (pow * 2) == 0) {
            pow *= 2;
        }
        // n = m·2^k: the largest power of two whose cofactor m has a Paley matrix (or is 1)
        int m = 0;
        int[] base = null;
        for (int p = pow; p >= 1 && base == null; p /= 2) {
            m = n / p;
            base = m == 1 ? new int[]{1} : paley(m);
        }
        if (base == null) {
            return null;
        }
        int[] h = base;
        int size = m;
        while (size < n) {
            int[] d = new int[4 * size * size];
            int s2 = 2 * size;
            for (int i = 0; i < size; i++) {
                for (int j = 0; j < size; j++) {
                    int v = h[i * size + j];
                    d[i * s2 + j] = v;
                    d[i * s2 + j + size] = v;
                    d[(i + size) * s2 + j] = v;
                    d[(i + size) * s2 + j + size] = -v;
                }
            }
            h = d;
            size = s2;
        }
        return h;
    }

    /** Paley's construction of order m: I (q = m − 1 prime, q ≡ 3 mod 4) or II (q = m/2 − 1 prime, q ≡ 1 mod 4). */
    static int[] paley(int m) {
        int q = m - 1;
        if (isPrime(q) && q % 4 == 3) {
            // H = I + S, S = [[0, 1ᵀ], [−1, Jacobsthal]] skew-symmetric
            int[] h = new int[m * m];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < m; j++) {
                    int s;
                    if (i == 0) {
                        s = j == 0 ? 0 : 1;
                    } else if (j == 0) {
                        s = -1;
                    } else {
                        s = chi(j - i, q);
                    }
                    h[i * m + j] = s + (i == j ? 1 : 0);
                }
            }
            return h;
        }
        if (m % 2 == 0) {
            q = m / 2 - 1;
            if (isPrime(q) && q % 4 == 1) {
                int k = q + 1;
                int[] h = new int[m * m];
                for (int i = 0; i < k; i++) {
                    for (int j = 0; j < k; j++) {
                        int s;
                        if (i == 0 && j == 0) {
                            s = 0;
                        } else if (i == 0 || j == 0) {
                            s = 1;
                        } else {
                            s = chi(j - i, q);
                        }
                        // 0 → [[1, −1], [−1, −1]], ±1 → ±[[1, 1], [1, −1]]
                        int a = s == 0 ? 1 : s;
                        int b = s == 0 ? -1 : s;
                        int c = s == 0 ? -1 : s;
                        int d = s == 0 ? -1 : -s;
                        h[(2 * i) * m + 2 * j] = a;
                        h[(2 * i) * m + 2 * j + 1] = b;
                        h[(2 * i + 1) * m + 2 * j] = c;
                        h[(2 * i + 1) * m + 2 * j + 1] = d;
                    }
                }
                return h;
            }
        }
        return null;
    }

    /** The quadratic character of x mod prime q: 0, 1 (a non-zero square) or −1. */
    private static int chi(int x, int q) {
        int v = Math.floorMod(x, q);
        if (v == 0) {
            return 0;
        }
        long p = 1;
        long b = v;
        int e = (q - 1) / 2;
        while (e > 0) {
            if ((e & 1) == 1) {
                p = p * b % q;
            }
            b = b * b % q;
            e >>= 1;
        }
        return p == 1 ? 1 : -1;
    }

    private static boolean isPrime(int q) {
        if (q < 2) {
            return false;
        }
        for (int d = 2; (long) d * d <= q; d++) {
            if (q % d == 0) {
                return false;
            }
        }
        return true;
    }

    private static void gramSchmidt(int n, Random r, float[] out) {
        double[] m = new double[n * n];
        for (int i = 0; i < n * n; i++) {
            m[i] = r.nextGaussian();
        }
        for (int i = 0; i < n; i++) {
            for (int pass = 0; pass < 2; pass++) {
                for (int j = 0; j < i; j++) {
                    double dot = 0;
                    for (int k = 0; k < n; k++) {
                        dot += m[i * n + k] * m[j * n + k];
                    }
                    for (int k = 0; k < n; k++) {
                        m[i * n + k] -= dot * m[j * n + k];
                    }
                }
            }
            double norm = 0;
            for (int k = 0; k < n; k++) {
                norm += m[i * n + k] * m[i * n + k];
            }
            norm = Math.sqrt(norm);
            for (int k = 0; k < n; k++) {
                m[i * n + k] /= norm;
                out[i * n + k] = (float) m[i * n + k];
            }
        }
    }
}
