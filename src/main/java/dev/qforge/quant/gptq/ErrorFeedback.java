package dev.qforge.quant.gptq;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * GPTQ's error feedback inside a band of rows: W[rows, c0:c1) −= E[rows, 0:k) · U[k0:k0+k, c0:c1), the errors
 * of k just-rounded columns spread to the columns after them. A register-blocked product (4 rows × 2 vectors
 * of columns accumulated over k, then one read-modify-write of W), so each weight is loaded and stored once
 * per k columns of errors instead of once per column, as row-by-row axpys would.
 */
final class ErrorFeedback {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();

    private ErrorFeedback() {
    }

    /**
     * @param w    weights, row r of the band at {@code wOff + r·ws}
     * @param e    errors, row r at {@code eOff + r·es}, k of them
     * @param u    the factor, row k0 + i at {@code (k0 + i)·us}
     * @param rows rows of the band
     */
    static void subtract(float[] w, int wOff, int ws, float[] e, int eOff, int es, float[] u, int k0, int us, int k,
                         int rows, int c0, int c1) {
        int full = rows / 4 * 4;
        // Columns outer, rows inner: each k × 2 vectors of U are copied into a contiguous panel that stays in
        // the L1 cache while every row group uses it. Read in place, U's rows are a power-of-two stride apart
        // for the usual widths, and all k of them fall into the same few cache sets.
        float[] panel = new float[k * 2 * L];
        int c = c0;
        for (; c + 2 * L <= c1 && full > 0; c += 2 * L) {
            for (int i = 0; i < k; i++) {
                System.arraycopy(u, (k0 + i) * us + c, panel, i * 2 * L, 2 * L);
            }
            for (int r = 0; r < full; r += 4) {
                four2(w, wOff + r * ws, ws, e, eOff + r * es, es, panel, 0, 2 * L, k, c);
            }
        }
        for (; c + L <= c1; c += L) {
            for (int r = 0; r < full; r += 4) {
                four1(w, wOff + r * ws, ws, e, eOff + r * es, es, u, k0 * us + c, us, k, c);
            }
        }
        for (int r = 0; r < full; r++) {
            scalar(w, wOff + r * ws, e, eOff + r * es, u, k0, us, k, c, c1);
        }
        for (int r = full; r < rows; r++) {
            int cc = c0;
            for (; cc + L <= c1; cc += L) {
                FloatVector acc = FloatVector.zero(FS);
                int er = eOff + r * es;
                for (int i = 0; i < k; i++) {
                    acc = FloatVector.fromArray(FS, u, (k0 + i) * us + cc).fma(FloatVector.broadcast(FS, e[er + i]), acc);
                }
                int at = wOff + r * ws + cc;
                FloatVector.fromArray(FS, w, at).sub(acc).intoArray(w, at);
            }
            scalar(w, wOff + r * ws, e, eOff + r * es, u, k0, us, k, cc, c1);
        }
    }

    /** 4 rows × 2 vectors of columns. */
    private static void four2(float[] w, int wRow, int ws, float[] e, int eRow, int es, float[] u, int uAt, int us, int k, int c) {
        FloatVector a00 = FloatVector.zero(FS), a01 = FloatVector.zero(FS);
        FloatVector a10 = FloatVector.zero(FS), a11 = FloatVector.zero(FS);
        FloatVector a20 = FloatVector.zero(FS), a21 = FloatVector.zero(FS);
        FloatVector a30 = FloatVector.zero(FS), a31 = FloatVector.zero(FS);
        for (int i = 0; i < k; i++) {
            int ui = uAt + i * us;
            FloatVector u0 = FloatVector.fromArray(FS, u, ui);
            FloatVector u1 = FloatVector.fromArray(FS, u, ui + L);
            FloatVector b0 = FloatVector.broadcast(FS, e[eRow + i]);
            FloatVector b1 = FloatVector.broadcast(FS, e[eRow + es + i]);
            FloatVector b2 = FloatVector.broadcast(FS, e[eRow + 2 * es + i]);
            FloatVector b3 = FloatVector.broadcast(FS, e[eRow + 3 * es + i]);
            a00 = u0.fma(b0, a00);
            a01 = u1.fma(b0, a01);
            a10 = u0.fma(b1, a10);
            a11 = u1.fma(b1, a11);
            a20 = u0.fma(b2, a20);
            a21 = u1.fma(b2, a21);
            a30 = u0.fma(b3, a30);
            a31 = u1.fma(b3, a31);
        }
        int at = wRow + c;
        FloatVector.fromArray(FS, w, at).sub(a00).intoArray(w, at);
        FloatVector.fromArray(FS, w, at + L).sub(a01).intoArray(w, at + L);
        at += ws;
        FloatVector.fromArray(FS, w, at).sub(a10).intoArray(w, at);
        FloatVector.fromArray(FS, w, at + L).sub(a11).intoArray(w, at + L);
        at += ws;
        FloatVector.fromArray(FS, w, at).sub(a20).intoArray(w, at);
        FloatVector.fromArray(FS, w, at + L).sub(a21).intoArray(w, at + L);
        at += ws;
        FloatVector.fromArray(FS, w, at).sub(a30).intoArray(w, at);
        FloatVector.fromArray(FS, w, at + L).sub(a31).intoArray(w, at + L);
    }

    /** 4 rows × 1 vector of columns. */
    private static void four1(float[] w, int wRow, int ws, float[] e, int eRow, int es, float[] u, int uAt, int us, int k, int c) {
        FloatVector a0 = FloatVector.zero(FS), a1 = FloatVector.zero(FS);
        FloatVector a2 = FloatVector.zero(FS), a3 = FloatVector.zero(FS);
        for (int i = 0; i < k; i++) {
            FloatVector u0 = FloatVector.fromArray(FS, u, uAt + i * us);
            a0 = u0.fma(FloatVector.broadcast(FS, e[eRow + i]), a0);
            a1 = u0.fma(FloatVector.broadcast(FS, e[eRow + es + i]), a1);
            a2 = u0.fma(FloatVector.broadcast(FS, e[eRow + 2 * es + i]), a2);
            a3 = u0.fma(FloatVector.broadcast(FS, e[eRow + 3 * es + i]), a3);
        }
        int at = wRow + c;
        FloatVector.fromArray(FS, w, at).sub(a0).intoArray(w, at);
        at += ws;
        FloatVector.fromArray(FS, w, at).sub(a1).intoArray(w, at);
        at += ws;
        FloatVector.fromArray(FS, w, at).sub(a2).intoArray(w, at);
        at += ws;
        FloatVector.fromArray(FS, w, at).sub(a3).intoArray(w, at);
    }

    private static void scalar(float[] w, int wRow, float[] e, int eRow, float[] u, int k0, int us, int k, int c0, int c1) {
        for (int c = c0; c < c1; c++) {
            float s = 0;
            for (int i = 0; i < k; i++) {
                s += e[eRow + i] * u[(k0 + i) * us + c];
            }
            w[wRow + c] -= s;
        }
    }
}
