package dev.qforge.kernel;

import dev.qforge.tensor.DType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * The n > 1 path of {@link MatMul}: out[t*rows + r] = sum_c W[r,c] x[t*cols + c].
 *
 * <p>Layout. x is packed once per call into token blocks of {@link MatMul#TW} (or, for the last block,
 * L) tokens, transposed so that for each c the block's tokens are contiguous: xp[blockBase + c*width + j]
 * = x[(t0+j)*cols + c] (zero past n). Parallel tasks own {@link MatMul#RB} weight rows each; a task
 * converts a K-slice of its rows to F32 in a thread-local scratch (row-major, stride = slice length) and
 * runs the register tile over every token block, accumulating into a thread-local transposed result
 * cT[r*nPad + t], which it finally scatters into out.
 *
 * <p>Register tile: 12 rows × 2 vectors of tokens (24 accumulators); per c it loads two x vectors and
 * broadcasts 12 weights: 24 FMAs per 14 loads, all from L1/L2.
 */
final class Gemm {
    private static final VectorSpecies<Float> FS = MatMul.FS;
    private static final int L = MatMul.L;
    private static final int MR = MatMul.MR;
    private static final int TW = MatMul.TW;
    private static final int RB = MatMul.RB;
    private static final int KC = MatMul.KC;

    private Gemm() {
    }

    private static final class Scratch {
        float[] w = new float[0];
        float[] c = new float[0];
        float[] xp = new float[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static void run(MemorySegment w, DType dt, int rows, int cols, float[] x, int n, float[] out) {
        long rowBytes = (long) cols * dt.byteSize();
        run((row, col0, count, dst, dstOff) -> MatMul.rowToF32(w, dt, row * rowBytes + (long) col0 * dt.byteSize(),
                count, dst, dstOff), rows, cols, x, n, out);
    }

    /** The GEMM over any weight format: {@code slices} converts column slices of KC (a multiple of 256) of each row. */
    static void run(RowSlices slices, int rows, int cols, float[] x, int n, float[] out) {
        int nPad = (n + L - 1) / L * L;
        int fullBlocks = n / TW;
        // The last block: tokens [fullBlocks*TW, n), padded to one or two vectors.
        int tailTokens = n - fullBlocks * TW;
        int blocks = fullBlocks + (tailTokens > 0 ? 1 : 0);
        Scratch callerScratch = SCRATCH.get();
        int xpSize = nPad * cols;
        if (tailTokens > L) {
            xpSize = (fullBlocks + 1) * TW * cols;
            nPad = (fullBlocks + 1) * TW;
        }
        if (callerScratch.xp.length < xpSize) {
            callerScratch.xp = new float[xpSize];
        }
        float[] xp = callerScratch.xp;
        final int np = nPad;
        Parallel.forRange(blocks, b -> packX(x, n, cols, xp, b));
        int tasks = (rows + RB - 1) / RB;
        Parallel.forRange(tasks, t -> task(slices, rows, cols, xp, n, np, out, t * RB));
    }

    /** Block b's width: TW for full blocks, else the tail rounded up to L or TW. */
    private static int blockWidth(int n, int b) {
        int t0 = b * TW;
        int left = n - t0;
        if (left >= TW) {
            return TW;
        }
        return left <= L ? L : TW;
    }

    private static void packX(float[] x, int n, int cols, float[] xp, int b) {
        int t0 = b * TW;
        int width = blockWidth(n, b);
        int base = t0 * cols;
        int valid = Math.min(width, n - t0);
        for (int j = 0; j < width; j++) {
            if (j < valid) {
                int src = (t0 + j) * cols;
                for (int c = 0; c < cols; c++) {
                    xp[base + c * width + j] = x[src + c];
                }
            } else {
                for (int c = 0; c < cols; c++) {
                    xp[base + c * width + j] = 0f;
                }
            }
        }
    }

    private static void task(RowSlices slices, int rows, int cols, float[] xp, int n, int nPad,
                             float[] out, int r0) {
        Scratch s = SCRATCH.get();
        int rowsHere = Math.min(RB, rows - r0);
        int groups = (rowsHere + MR - 1) / MR;
        int kcMax = Math.min(KC, cols);
        if (s.w.length < RB * kcMax) {
            s.w = new float[RB * Math.max(kcMax, KC)];
        }
        if (s.c.length < RB * nPad) {
            s.c = new float[RB * nPad];
        }
        float[] ws = s.w;
        float[] ct = s.c;
        int blocks = (n + TW - 1) / TW;
        for (int k0 = 0; k0 < cols; k0 += KC) {
            int kl = Math.min(KC, cols - k0);
            // A last, partial row group computes on whatever the scratch holds past rowsHere: each row has
            // its own accumulators, so those rows only produce results that are never written out.
            for (int r = 0; r < rowsHere; r++) {
                slices.toF32(r0 + r, k0, kl, ws, r * kl);
            }
            boolean first = k0 == 0;
            for (int b = 0; b < blocks; b++) {
                int t0 = b * TW;
                int width = blockWidth(n, b);
                int xOff = t0 * cols + k0 * width;
                for (int g = 0; g < groups; g++) {
                    int wOff = g * MR * kl;
                    int cOff = g * MR * nPad + t0;
                    if (width == TW) {
                        tile12x2(ws, wOff, kl, xp, xOff, kl, ct, cOff, nPad, first);
                    } else {
                        tile12x1(ws, wOff, kl, xp, xOff, kl, ct, cOff, nPad, first);
                    }
                }
            }
        }
        // Token-major, so that the writes to out are contiguous: row-major, each write hit a different
        // page and, for power-of-two row counts, the same L1 set.
        for (int t = 0; t < n; t++) {
            int dst = t * rows + r0;
            for (int r = 0; r < rowsHere; r++) {
                out[dst + r] = ct[r * nPad + t];
            }
        }
    }

    /**
     * c[cOff + i*cs + j] (+)= sum_{k<kl} w[wOff + i*ws + k] * xp[xOff + k*TW + j] for rows i in [0,12) and
     * tokens j in [0, TW).
     */
    static void tile12x2(float[] w, int wOff, int ws, float[] xp, int xOff, int kl, float[] c, int cOff, int cs,
                         boolean first) {
        FloatVector a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11;
        FloatVector b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11;
        if (first) {
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = a10 = a11 = FloatVector.zero(FS);
            b0 = b1 = b2 = b3 = b4 = b5 = b6 = b7 = b8 = b9 = b10 = b11 = FloatVector.zero(FS);
        } else {
            a0 = FloatVector.fromArray(FS, c, cOff);
            b0 = FloatVector.fromArray(FS, c, cOff + L);
            a1 = FloatVector.fromArray(FS, c, cOff + cs);
            b1 = FloatVector.fromArray(FS, c, cOff + cs + L);
            a2 = FloatVector.fromArray(FS, c, cOff + 2 * cs);
            b2 = FloatVector.fromArray(FS, c, cOff + 2 * cs + L);
            a3 = FloatVector.fromArray(FS, c, cOff + 3 * cs);
            b3 = FloatVector.fromArray(FS, c, cOff + 3 * cs + L);
            a4 = FloatVector.fromArray(FS, c, cOff + 4 * cs);
            b4 = FloatVector.fromArray(FS, c, cOff + 4 * cs + L);
            a5 = FloatVector.fromArray(FS, c, cOff + 5 * cs);
            b5 = FloatVector.fromArray(FS, c, cOff + 5 * cs + L);
            a6 = FloatVector.fromArray(FS, c, cOff + 6 * cs);
            b6 = FloatVector.fromArray(FS, c, cOff + 6 * cs + L);
            a7 = FloatVector.fromArray(FS, c, cOff + 7 * cs);
            b7 = FloatVector.fromArray(FS, c, cOff + 7 * cs + L);
            a8 = FloatVector.fromArray(FS, c, cOff + 8 * cs);
            b8 = FloatVector.fromArray(FS, c, cOff + 8 * cs + L);
            a9 = FloatVector.fromArray(FS, c, cOff + 9 * cs);
            b9 = FloatVector.fromArray(FS, c, cOff + 9 * cs + L);
            a10 = FloatVector.fromArray(FS, c, cOff + 10 * cs);
            b10 = FloatVector.fromArray(FS, c, cOff + 10 * cs + L);
            a11 = FloatVector.fromArray(FS, c, cOff + 11 * cs);
            b11 = FloatVector.fromArray(FS, c, cOff + 11 * cs + L);
        }
        int w0 = wOff, w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws, w4 = w3 + ws, w5 = w4 + ws;
        int w6 = w5 + ws, w7 = w6 + ws, w8 = w7 + ws, w9 = w8 + ws, w10 = w9 + ws, w11 = w10 + ws;
        for (int k = 0; k < kl; k++) {
            int xo = xOff + k * TW;
            FloatVector x0 = FloatVector.fromArray(FS, xp, xo);
            FloatVector x1 = FloatVector.fromArray(FS, xp, xo + L);
            FloatVector v = FloatVector.broadcast(FS, w[w0 + k]);
            a0 = x0.fma(v, a0);
            b0 = x1.fma(v, b0);
            v = FloatVector.broadcast(FS, w[w1 + k]);
            a1 = x0.fma(v, a1);
            b1 = x1.fma(v, b1);
            v = FloatVector.broadcast(FS, w[w2 + k]);
            a2 = x0.fma(v, a2);
            b2 = x1.fma(v, b2);
            v = FloatVector.broadcast(FS, w[w3 + k]);
            a3 = x0.fma(v, a3);
            b3 = x1.fma(v, b3);
            v = FloatVector.broadcast(FS, w[w4 + k]);
            a4 = x0.fma(v, a4);
            b4 = x1.fma(v, b4);
            v = FloatVector.broadcast(FS, w[w5 + k]);
            a5 = x0.fma(v, a5);
            b5 = x1.fma(v, b5);
            v = FloatVector.broadcast(FS, w[w6 + k]);
            a6 = x0.fma(v, a6);
            b6 = x1.fma(v, b6);
            v = FloatVector.broadcast(FS, w[w7 + k]);
            a7 = x0.fma(v, a7);
            b7 = x1.fma(v, b7);
            v = FloatVector.broadcast(FS, w[w8 + k]);
            a8 = x0.fma(v, a8);
            b8 = x1.fma(v, b8);
            v = FloatVector.broadcast(FS, w[w9 + k]);
            a9 = x0.fma(v, a9);
            b9 = x1.fma(v, b9);
            v = FloatVector.broadcast(FS, w[w10 + k]);
            a10 = x0.fma(v, a10);
            b10 = x1.fma(v, b10);
            v = FloatVector.broadcast(FS, w[w11 + k]);
            a11 = x0.fma(v, a11);
            b11 = x1.fma(v, b11);
        }
        a0.intoArray(c, cOff);
        b0.intoArray(c, cOff + L);
        a1.intoArray(c, cOff + cs);
        b1.intoArray(c, cOff + cs + L);
        a2.intoArray(c, cOff + 2 * cs);
        b2.intoArray(c, cOff + 2 * cs + L);
        a3.intoArray(c, cOff + 3 * cs);
        b3.intoArray(c, cOff + 3 * cs + L);
        a4.intoArray(c, cOff + 4 * cs);
        b4.intoArray(c, cOff + 4 * cs + L);
        a5.intoArray(c, cOff + 5 * cs);
        b5.intoArray(c, cOff + 5 * cs + L);
        a6.intoArray(c, cOff + 6 * cs);
        b6.intoArray(c, cOff + 6 * cs + L);
        a7.intoArray(c, cOff + 7 * cs);
        b7.intoArray(c, cOff + 7 * cs + L);
        a8.intoArray(c, cOff + 8 * cs);
        b8.intoArray(c, cOff + 8 * cs + L);
        a9.intoArray(c, cOff + 9 * cs);
        b9.intoArray(c, cOff + 9 * cs + L);
        a10.intoArray(c, cOff + 10 * cs);
        b10.intoArray(c, cOff + 10 * cs + L);
        a11.intoArray(c, cOff + 11 * cs);
        b11.intoArray(c, cOff + 11 * cs + L);
    }

    /** As {@link #tile12x2} for a block of one vector (L) of tokens: xp stride per k is L. */
    static void tile12x1(float[] w, int wOff, int ws, float[] xp, int xOff, int kl, float[] c, int cOff, int cs,
                         boolean first) {
        FloatVector a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11;
        if (first) {
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = a10 = a11 = FloatVector.zero(FS);
        } else {
            a0 = FloatVector.fromArray(FS, c, cOff);
            a1 = FloatVector.fromArray(FS, c, cOff + cs);
            a2 = FloatVector.fromArray(FS, c, cOff + 2 * cs);
            a3 = FloatVector.fromArray(FS, c, cOff + 3 * cs);
            a4 = FloatVector.fromArray(FS, c, cOff + 4 * cs);
            a5 = FloatVector.fromArray(FS, c, cOff + 5 * cs);
            a6 = FloatVector.fromArray(FS, c, cOff + 6 * cs);
            a7 = FloatVector.fromArray(FS, c, cOff + 7 * cs);
            a8 = FloatVector.fromArray(FS, c, cOff + 8 * cs);
            a9 = FloatVector.fromArray(FS, c, cOff + 9 * cs);
            a10 = FloatVector.fromArray(FS, c, cOff + 10 * cs);
            a11 = FloatVector.fromArray(FS, c, cOff + 11 * cs);
        }
        int w0 = wOff, w1 = w0 + ws, w2 = w1 + ws, w3 = w2 + ws, w4 = w3 + ws, w5 = w4 + ws;
        int w6 = w5 + ws, w7 = w6 + ws, w8 = w7 + ws, w9 = w8 + ws, w10 = w9 + ws, w11 = w10 + ws;
        for (int k = 0; k < kl; k++) {
            FloatVector x0 = FloatVector.fromArray(FS, xp, xOff + k * L);
            a0 = x0.fma(FloatVector.broadcast(FS, w[w0 + k]), a0);
            a1 = x0.fma(FloatVector.broadcast(FS, w[w1 + k]), a1);
            a2 = x0.fma(FloatVector.broadcast(FS, w[w2 + k]), a2);
            a3 = x0.fma(FloatVector.broadcast(FS, w[w3 + k]), a3);
            a4 = x0.fma(FloatVector.broadcast(FS, w[w4 + k]), a4);
            a5 = x0.fma(FloatVector.broadcast(FS, w[w5 + k]), a5);
            a6 = x0.fma(FloatVector.broadcast(FS, w[w6 + k]), a6);
            a7 = x0.fma(FloatVector.broadcast(FS, w[w7 + k]), a7);
            a8 = x0.fma(FloatVector.broadcast(FS, w[w8 + k]), a8);
            a9 = x0.fma(FloatVector.broadcast(FS, w[w9 + k]), a9);
            a10 = x0.fma(FloatVector.broadcast(FS, w[w10 + k]), a10);
            a11 = x0.fma(FloatVector.broadcast(FS, w[w11 + k]), a11);
        }
        a0.intoArray(c, cOff);
        a1.intoArray(c, cOff + cs);
        a2.intoArray(c, cOff + 2 * cs);
        a3.intoArray(c, cOff + 3 * cs);
        a4.intoArray(c, cOff + 4 * cs);
        a5.intoArray(c, cOff + 5 * cs);
        a6.intoArray(c, cOff + 6 * cs);
        a7.intoArray(c, cOff + 7 * cs);
        a8.intoArray(c, cOff + 8 * cs);
        a9.intoArray(c, cOff + 9 * cs);
        a10.intoArray(c, cOff + 10 * cs);
        a11.intoArray(c, cOff + 11 * cs);
    }
}
