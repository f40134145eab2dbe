package dev.qforge.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Rank-k updates of a row-major matrix, C ± A·B, by one register tile: what GPTQ's error feedback
 * (W −= E·U) and the Hessian's Gram sum (H += XᵀX) both are.
 *
 * <p>The layout is GotoBLAS's. A panel of B (at most {@link #KC} of its rows × {@link #W} columns) is copied
 * into a contiguous buffer (NC panels at a time, in the L2 cache) that stays in the L1 cache while every group of {@link #MR} rows of A, packed
 * as k groups of MR values, runs the register tile over it: MR × 2 vectors of accumulators, fed per step by
 * two vector loads of B and MR broadcasts of A, then one read-modify-write of C. Packing is what makes the
 * tile run near the FMA peak: read in place, B's rows are a power-of-two stride apart for the usual widths
 * and all fall into the same few cache sets, and A's values would be a stride apart too. Rows and columns
 * past the edges are packed as zeros and their results dropped, so one tile serves every shape.
 *
 * <p>6 × 2 vectors is 12 accumulators + 2 + 1 registers: it fits AVX2's 16 and leaves AVX-512's 32 room;
 * wider tiles measured no faster on Zen 5 once the packing was amortized over many rows.
 */
public final class RankUpdate {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();
    /** Rows of the register tile. */
    public static final int MR = 6;
    /** Columns of the register tile: two vectors. */
    public static final int W = 2 * L;
    /** Rows of B per packed panel: 256 × W floats is 16 KB (AVX2) or 32 KB (AVX-512), within the L1 cache. */
    static final int KC = 256;
    /** Panels packed at a time: B's rows are then read in runs of NC·W floats (1 or 2 KB), not of one panel. */
    static final int NC = 8;

    private RankUpdate() {
    }

    /** Reusable buffers of one thread: the packed rows of A, a panel of B, a tile for the edges. */
    private static final class Scratch {
        float[] a = new float[0];
        float[] b = new float[KC * NC * W];
        float[] edge = new float[MR * W];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /**
     * C[r][c] += alpha · Σ_{i<k} A[r][i] · B[i][c] for r < rows and c in [c0, c1), on the calling thread.
     *
     * @param c     C[r][c] at {@code cOff + r·cs + c}
     * @param a     A[r][i] at {@code aOff + r·ars + i·ais} (any strides: A is packed first)
     * @param b     B[i][c] at {@code bOff + i·bs + c}
     * @param alpha 1 or −1 in practice
     */
    public static void update(float[] c, int cOff, int cs, float[] a, int aOff, int ars, int ais,
                              float[] b, int bOff, int bs, int k, int rows, int c0, int c1, float alpha) {
        if (rows <= 0 || c1 <= c0 || k <= 0) {
            return;
        }
        Scratch s = SCRATCH.get();
        int groups = (rows + MR - 1) / MR;
        for (int k0 = 0; k0 < k; k0 += KC) {
            int kc = Math.min(KC, k - k0);
            if (s.a.length < groups * MR * kc) {
                s.a = new float[groups * MR * kc];
            }
            for (int g = 0; g < groups; g++) {
                packA(a, aOff + g * MR * ars + k0 * ais, ars, ais, Math.min(MR, rows - g * MR), kc, s.a, g * MR * kc);
            }
            for (int col = c0; col < c1; col += NC * W) {
                int blockWidth = Math.min(NC * W, c1 - col);
                packB(b, bOff + k0 * bs + col, bs, kc, blockWidth, s.b);
                // Row groups outer, panels inner: C's rows are then walked left to right, six streams that the
                // prefetcher follows, while A's group stays in L1 and the block of panels in L2.
                for (int g = 0; g < groups; g++) {
                    int n = Math.min(MR, rows - g * MR);
                    for (int p = 0; p * W < blockWidth; p++) {
                        int width = Math.min(W, blockWidth - p * W);
                        tile(c, cOff + g * MR * cs + col + p * W, cs, n, width, s.a, g * MR * kc, s.b, p * kc * W, kc,
                                alpha, s.edge);
                    }
                }
            }
        }
    }

    /**
     * The upper triangle (with the diagonal) of the n × n Gram matrix of x's rows, added to h:
     * h[i][j] += Σ_t x[t][i] · x[t][j] for i ≤ j, over {@code tokens} rows of n floats. Tiles that straddle
     * the diagonal are computed whole, so some entries below it change too; callers mirror the upper
     * triangle before reading the lower. Runs on all threads of {@link Parallel}, a panel of columns each.
     */
    public static void addUpperGram(float[] h, int n, float[] x, int tokens) {
        if (tokens <= 0) {
            return;
        }
        int groups = (n + MR - 1) / MR;
        int blocks = (n + NC * W - 1) / (NC * W);
        float[] packed = new float[groups * MR * Math.min(KC, tokens)];
        for (int t0 = 0; t0 < tokens; t0 += KC) {
            int kc = Math.min(KC, tokens - t0);
            int start = t0;
            // A = Xᵀ: row i of A is column i of x, packed once for all panels
            Parallel.forRange(groups, g -> packA(x, start * n + g * MR, 1, n, Math.min(MR, n - g * MR), kc, packed, g * MR * kc));
            // Blocks of panels from the right: they have the most row groups above the diagonal, so the largest
            // tasks are claimed first and the threads finish together.
            Parallel.forRange(blocks, q -> {
                Scratch s = SCRATCH.get();
                int col = (blocks - 1 - q) * NC * W;
                int blockWidth = Math.min(NC * W, n - col);
                packB(x, start * n + col, n, kc, blockWidth, s.b);
                // as in update(): row groups outer, each over the panels it reaches (those not left of the diagonal)
                int lastGroup = Math.min(groups, (col + blockWidth - 1) / MR + 1);
                for (int g = 0; g < lastGroup; g++) {
                    int firstPanel = Math.max(0, (g * MR - col) / W);
                    for (int p = firstPanel; p * W < blockWidth; p++) {
                        int width = Math.min(W, blockWidth - p * W);
                        tile(h, g * MR * n + col + p * W, n, Math.min(MR, n - g * MR), width, packed, g * MR * kc, s.b,
                                p * kc * W, kc, 1f, s.edge);
                    }
                }
            });
        }
    }

    /** ap[i·MR + r] = A[r][i] for r < rows (zeros up to MR), i < k. */
    private static void packA(float[] a, int off, int rs, int is, int rows, int k, float[] ap, int apOff) {
        for (int i = 0; i < k; i++) {
            int dst = apOff + i * MR;
            int src = off + i * is;
            int r = 0;
            for (; r < rows; r++) {
                ap[dst + r] = a[src + r * rs];
            }
            for (; r < MR; r++) {
                ap[dst + r] = 0;
            }
        }
    }

    /**
     * B's k × width block, row by row (long contiguous reads, which the prefetcher follows), into panels of W
     * columns: panel p holds bp[p·k·W + i·W + c] = B[i][p·W + c], zeros past width.
     */
    private static void packB(float[] b, int off, int bs, int k, int width, float[] bp) {
        int panels = (width + W - 1) / W;
        for (int i = 0; i < k; i++) {
            int src = off + i * bs;
            for (int p = 0; p < panels; p++) {
                int w = Math.min(W, width - p * W);
                int dst = p * k * W + i * W;
                System.arraycopy(b, src + p * W, bp, dst, w);
                if (w < W) {
                    java.util.Arrays.fill(bp, dst + w, dst + W, 0f);
                }
            }
        }
    }

    /** C's rows × width tile at cAt += alpha · Ap·Bp; a partial tile goes through the edge buffer. */
    private static void tile(float[] c, int cAt, int cs, int rows, int width, float[] ap, int apOff, float[] bp, int bpOff,
                             int k, float alpha, float[] edge) {
        if (rows == MR && width == W) {
            kernel(c, cAt, cs, ap, apOff, bp, bpOff, k, alpha);
            return;
        }
        java.util.Arrays.fill(edge, 0f);
        kernel(edge, 0, W, ap, apOff, bp, bpOff, k, 1f);
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < width; j++) {
                c[cAt + r * cs + j] += alpha * edge[r * W + j];
            }
        }
    }

    /** The register tile: C[MR × W] at cAt += alpha · Σ_i ap[i·MR + r] · bp[i·W + c]. */
    private static void kernel(float[] c, int cAt, int cs, float[] ap, int apOff, float[] bp, int bpOff, int k, float alpha) {
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z;
        FloatVector a30 = z, a31 = z, a40 = z, a41 = z, a50 = z, a51 = z;
        for (int i = 0; i < k; i++) {
            int bi = bpOff + i * W;
            int ai = apOff + i * MR;
            FloatVector b0 = FloatVector.fromArray(FS, bp, bi);
            FloatVector b1 = FloatVector.fromArray(FS, bp, bi + L);
            {
                FloatVector e = FloatVector.broadcast(FS, ap[ai]);
                a00 = b0.fma(e, a00);
                a01 = b1.fma(e, a01);
            }
            {
                FloatVector e = FloatVector.broadcast(FS, ap[ai + 1]);
                a10 = b0.fma(e, a10);
                a11 = b1.fma(e, a11);
            }
            {
                FloatVector e = FloatVector.broadcast(FS, ap[ai + 2]);
                a20 = b0.fma(e, a20);
                a21 = b1.fma(e, a21);
            }
            {
                FloatVector e = FloatVector.broadcast(FS, ap[ai + 3]);
                a30 = b0.fma(e, a30);
                a31 = b1.fma(e, a31);
            }
            {
                FloatVector e = FloatVector.broadcast(FS, ap[ai + 4]);
                a40 = b0.fma(e, a40);
                a41 = b1.fma(e, a41);
            }
            {
                FloatVector e = FloatVector.broadcast(FS, ap[ai + 5]);
                a50 = b0.fma(e, a50);
                a51 = b1.fma(e, a51);
            }
        }
        FloatVector al = FloatVector.broadcast(FS, alpha);
        store(c, cAt, a00, a01, al);
        store(c, cAt + cs, a10, a11, al);
        store(c, cAt + 2 * cs, a20, a21, al);
        store(c, cAt + 3 * cs, a30, a31, al);
        store(c, cAt + 4 * cs, a40, a41, al);
        store(c, cAt + 5 * cs, a50, a51, al);
    }

    private static void store(float[] c, int at, FloatVector x0, FloatVector x1, FloatVector alpha) {
        x0.fma(alpha, FloatVector.fromArray(FS, c, at)).intoArray(c, at);
        x1.fma(alpha, FloatVector.fromArray(FS, c, at + L)).intoArray(c, at + L);
    }
}
