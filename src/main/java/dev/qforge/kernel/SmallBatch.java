package dev.qforge.kernel;

import dev.qforge.numeric.FloatBits;
import dev.qforge.numeric.Lanes;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The path of {@link MatMul} for a few tokens (2 ≤ n &lt; {@link MatMul#gemmMinN}): too few to amortize
 * the GEMM's packing and its padding to whole vectors of tokens, too many for n separate matvecs. Weight
 * rows are read in place (as in the matvec) and each loaded weight vector meets four tokens at once. A task
 * owns a chunk of rows small enough to stay in L2 while it runs over the token groups, so the weights come
 * from memory once. Token groups are always four wide: a short last group repeats its last token (its
 * results are written twice, to the same place).
 */
final class SmallBatch {
    private static final VectorSpecies<Float> FS = MatMul.FS;
    private static final VectorSpecies<Integer> IS = MatMul.IS;
    private static final int L = MatMul.L;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final int HI_MASK = 0xFFFF0000;
    /** Weight bytes per task: the chunk stays in L2 while every token group passes over it. */
    private static final long CHUNK_BYTES = 192 * 1024;

    private SmallBatch() {
    }

    /** Per calling thread: x split into even and odd elements, per token (for BF16/F16). */
    private static final ThreadLocal<float[][]> SPLIT = ThreadLocal.withInitial(() -> new float[2][0]);

    static void run(MemorySegment w, DType dt, int rows, int cols, float[] x, int n, float[] out) {
        long rowBytes = (long) cols * dt.byteSize();
        int threads = Parallel.threads();
        int chunk = (int) Math.max(4, Math.min(CHUNK_BYTES / rowBytes, (rows + 2L * threads - 1) / (2L * threads)));
        chunk = (chunk + 3) & ~3;
        int tasks = (rows + chunk - 1) / chunk;
        final int ch = chunk;
        if (dt == DType.F32) {
            Parallel.forRange(tasks, t -> f32Task(w, rows, cols, x, n, out, t * ch, Math.min(rows, t * ch + ch)));
            return;
        }
        if (dt == DType.F16) {
            Parallel.forRange(tasks, t -> f16Task(w, rows, cols, x, n, out, t * ch, Math.min(rows, t * ch + ch)));
            return;
        }
        int half = cols >>> 1;
        float[][] split = SPLIT.get();
        if (split[0].length < n * half) {
            split[0] = new float[n * half];
            split[1] = new float[n * half];
        }
        float[] xe = split[0];
        float[] xo = split[1];
        for (int t = 0; t < n; t++) {
            int src = t * cols;
            int dst = t * half;
            for (int p = 0; p < half; p++) {
                xe[dst + p] = x[src + 2 * p];
                xo[dst + p] = x[src + 2 * p + 1];
            }
        }
        Parallel.forRange(tasks, t -> bf16Task(w, rows, cols, x, xe, xo, n, out, t * ch, Math.min(rows, t * ch + ch)));
    }

    private static void f32Task(MemorySegment w, int rows, int cols, float[] x, int n, float[] out, int r0, int r1) {
        long rowBytes = (long) cols * 4;
        for (int t0 = 0; t0 < n; t0 += 4) {
            int t1 = Math.min(t0 + 1, n - 1), t2 = Math.min(t0 + 2, n - 1), t3 = Math.min(t0 + 3, n - 1);
            int r = r0;
            for (; r + 4 <= r1; r += 4) {
                f32Tile4x4(w, r * rowBytes, rowBytes, x, cols, t0, t1, t2, t3, out, rows, r);
            }
            for (; r < r1; r++) {
                long o = r * rowBytes;
                out[t0 * rows + r] = MatMul.f32Dot1(w, o, x, t0 * cols, cols);
                out[t1 * rows + r] = MatMul.f32Dot1(w, o, x, t1 * cols, cols);
                out[t2 * rows + r] = MatMul.f32Dot1(w, o, x, t2 * cols, cols);
                out[t3 * rows + r] = MatMul.f32Dot1(w, o, x, t3 * cols, cols);
            }
        }
    }

    /** Rows r..r+3 (weights at byte o0, stride rowBytes) times tokens t0..t3 of x. */
    static void f32Tile4x4(MemorySegment w, long o0, long rowBytes, float[] x, int cols, int t0, int t1, int t2,
                           int t3, float[] out, int rows, int r) {
        long o1 = o0 + rowBytes, o2 = o1 + rowBytes, o3 = o2 + rowBytes;
        int x0 = t0 * cols, x1 = t1 * cols, x2 = t2 * cols, x3 = t3 * cols;
        FloatVector a00 = FloatVector.zero(FS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int bound = FS.loopBound(cols);
        int c = 0;
        for (; c < bound; c += L) {
            long b = (long) c * 4;
            FloatVector w0 = FloatVector.fromMemorySegment(FS, w, o0 + b, LE);
            FloatVector w1 = FloatVector.fromMemorySegment(FS, w, o1 + b, LE);
            FloatVector w2 = FloatVector.fromMemorySegment(FS, w, o2 + b, LE);
            FloatVector w3 = FloatVector.fromMemorySegment(FS, w, o3 + b, LE);
            FloatVector xv = FloatVector.fromArray(FS, x, x0 + c);
            a00 = w0.fma(xv, a00);
            a10 = w1.fma(xv, a10);
            a20 = w2.fma(xv, a20);
            a30 = w3.fma(xv, a30);
            xv = FloatVector.fromArray(FS, x, x1 + c);
            a01 = w0.fma(xv, a01);
            a11 = w1.fma(xv, a11);
            a21 = w2.fma(xv, a21);
            a31 = w3.fma(xv, a31);
            xv = FloatVector.fromArray(FS, x, x2 + c);
            a02 = w0.fma(xv, a02);
            a12 = w1.fma(xv, a12);
            a22 = w2.fma(xv, a22);
            a32 = w3.fma(xv, a32);
            xv = FloatVector.fromArray(FS, x, x3 + c);
            a03 = w0.fma(xv, a03);
            a13 = w1.fma(xv, a13);
            a23 = w2.fma(xv, a23);
            a33 = w3.fma(xv, a33);
        }
        float[] s = {
            Lanes.sum(a00), Lanes.sum(a01),
            Lanes.sum(a02), Lanes.sum(a03),
            Lanes.sum(a10), Lanes.sum(a11),
            Lanes.sum(a12), Lanes.sum(a13),
            Lanes.sum(a20), Lanes.sum(a21),
            Lanes.sum(a22), Lanes.sum(a23),
            Lanes.sum(a30), Lanes.sum(a31),
            Lanes.sum(a32), Lanes.sum(a33)};
        for (; c < cols; c++) {
            long b = (long) c * 4;
            float v0 = w.get(Tensor.F32, o0 + b), v1 = w.get(Tensor.F32, o1 + b);
            float v2 = w.get(Tensor.F32, o2 + b), v3 = w.get(Tensor.F32, o3 + b);
            float y0 = x[x0 + c], y1 = x[x1 + c], y2 = x[x2 + c], y3 = x[x3 + c];
            s[0] += v0 * y0; s[1] += v0 * y1; s[2] += v0 * y2; s[3] += v0 * y3;
            s[4] += v1 * y0; s[5] += v1 * y1; s[6] += v1 * y2; s[7] += v1 * y3;
            s[8] += v2 * y0; s[9] += v2 * y1; s[10] += v2 * y2; s[11] += v2 * y3;
            s[12] += v3 * y0; s[13] += v3 * y1; s[14] += v3 * y2; s[15] += v3 * y3;
        }
        store4x4(s, out, rows, r, t0, t1, t2, t3);
    }

    private static void store4x4(float[] s, float[] out, int rows, int r, int t0, int t1, int t2, int t3) {
        for (int i = 0; i < 4; i++) {
            out[t0 * rows + r + i] = s[4 * i];
            out[t1 * rows + r + i] = s[4 * i + 1];
            out[t2 * rows + r + i] = s[4 * i + 2];
            out[t3 * rows + r + i] = s[4 * i + 3];
        }
    }

    private static void bf16Task(MemorySegment w, int rows, int cols, float[] x, float[] xe, float[] xo, int n,
                                 float[] out, int r0, int r1) {
        long rowBytes = (long) cols * 2;
        int half = cols >>> 1;
        for (int t0 = 0; t0 < n; t0 += 4) {
            int t1 = Math.min(t0 + 1, n - 1), t2 = Math.min(t0 + 2, n - 1), t3 = Math.min(t0 + 3, n - 1);
            int r = r0;
            for (; r + 4 <= r1; r += 4) {
                bf16Tile4x4(w, r * rowBytes, rowBytes, x, xe, xo, cols, half, t0, t1, t2, t3, out, rows, r);
            }
            for (; r < r1; r++) {
                long o = r * rowBytes;
                for (int t : new int[] {t0, t1, t2, t3}) {
                    out[t * rows + r] = MatMul.bf16Dot1(w, o, x, t * cols, xe, xo, t * half, cols);
                }
            }
        }
    }

    /** As {@link #f32Tile4x4} for BF16 weights; xe/xo hold each token's even/odd elements, half per token. */
    static void bf16Tile4x4(MemorySegment w, long o0, long rowBytes, float[] x, float[] xe, float[] xo, int cols,
                            int half, int t0, int t1, int t2, int t3, float[] out, int rows, int r) {
        long o1 = o0 + rowBytes, o2 = o1 + rowBytes, o3 = o2 + rowBytes;
        int x0 = t0 * half, x1 = t1 * half, x2 = t2 * half, x3 = t3 * half;
        FloatVector a00 = FloatVector.zero(FS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int bound = IS.loopBound(half);
        for (int p = 0; p < bound; p += L) {
            long b = (long) p * 4;
            IntVector v0 = IntVector.fromMemorySegment(IS, w, o0 + b, LE);
            IntVector v1 = IntVector.fromMemorySegment(IS, w, o1 + b, LE);
            IntVector v2 = IntVector.fromMemorySegment(IS, w, o2 + b, LE);
            IntVector v3 = IntVector.fromMemorySegment(IS, w, o3 + b, LE);
            FloatVector e0 = v0.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e1 = v1.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e2 = v2.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector e3 = v3.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
            FloatVector xv = FloatVector.fromArray(FS, xe, x0 + p);
            a00 = e0.fma(xv, a00);
            a10 = e1.fma(xv, a10);
            a20 = e2.fma(xv, a20);
            a30 = e3.fma(xv, a30);
            xv = FloatVector.fromArray(FS, xe, x1 + p);
            a01 = e0.fma(xv, a01);
            a11 = e1.fma(xv, a11);
            a21 = e2.fma(xv, a21);
            a31 = e3.fma(xv, a31);
            xv = FloatVector.fromArray(FS, xe, x2 + p);
            a02 = e0.fma(xv, a02);
            a12 = e1.fma(xv, a12);
            a22 = e2.fma(xv, a22);
            a32 = e3.fma(xv, a32);
            xv = FloatVector.fromArray(FS, xe, x3 + p);
            a03 = e0.fma(xv, a03);
            a13 = e1.fma(xv, a13);
            a23 = e2.fma(xv, a23);
            a33 = e3.fma(xv, a33);
            e0 = v0.and(HI_MASK).reinterpretAsFloats();
            e1 = v1.and(HI_MASK).reinterpretAsFloats();
            e2 = v2.and(HI_MASK).reinterpretAsFloats();
            e3 = v3.and(HI_MASK).reinterpretAsFloats();
            xv = FloatVector.fromArray(FS, xo, x0 + p);
            a00 = e0.fma(xv, a00);
            a10 = e1.fma(xv, a10);
            a20 = e2.fma(xv, a20);
            a30 = e3.fma(xv, a30);
            xv = FloatVector.fromArray(FS, xo, x1 + p);
            a01 = e0.fma(xv, a01);
            a11 = e1.fma(xv, a11);
            a21 = e2.fma(xv, a21);
            a31 = e3.fma(xv, a31);
            xv = FloatVector.fromArray(FS, xo, x2 + p);
            a02 = e0.fma(xv, a02);
            a12 = e1.fma(xv, a12);
            a22 = e2.fma(xv, a22);
            a32 = e3.fma(xv, a32);
            xv = FloatVector.fromArray(FS, xo, x3 + p);
            a03 = e0.fma(xv, a03);
            a13 = e1.fma(xv, a13);
            a23 = e2.fma(xv, a23);
            a33 = e3.fma(xv, a33);
        }
        float[] s = {
            Lanes.sum(a00), Lanes.sum(a01),
            Lanes.sum(a02), Lanes.sum(a03),
            Lanes.sum(a10), Lanes.sum(a11),
            Lanes.sum(a12), Lanes.sum(a13),
            Lanes.sum(a20), Lanes.sum(a21),
            Lanes.sum(a22), Lanes.sum(a23),
            Lanes.sum(a30), Lanes.sum(a31),
            Lanes.sum(a32), Lanes.sum(a33)};
        int xb0 = t0 * cols, xb1 = t1 * cols, xb2 = t2 * cols, xb3 = t3 * cols;
        for (int c = 2 * bound; c < cols; c++) {
            long b = (long) c * 2;
            float v0 = FloatBits.bf16ToFloat(w.get(Tensor.I16, o0 + b));
            float v1 = FloatBits.bf16ToFloat(w.get(Tensor.I16, o1 + b));
            float v2 = FloatBits.bf16ToFloat(w.get(Tensor.I16, o2 + b));
            float v3 = FloatBits.bf16ToFloat(w.get(Tensor.I16, o3 + b));
            float y0 = x[xb0 + c], y1 = x[xb1 + c], y2 = x[xb2 + c], y3 = x[xb3 + c];
            s[0] += v0 * y0; s[1] += v0 * y1; s[2] += v0 * y2; s[3] += v0 * y3;
            s[4] += v1 * y0; s[5] += v1 * y1; s[6] += v1 * y2; s[7] += v1 * y3;
            s[8] += v2 * y0; s[9] += v2 * y1; s[10] += v2 * y2; s[11] += v2 * y3;
            s[12] += v3 * y0; s[13] += v3 * y1; s[14] += v3 * y2; s[15] += v3 * y3;
        }
        store4x4(s, out, rows, r, t0, t1, t2, t3);
    }

    /**
     * F16: four rows at a time are converted to F32 (thread-local buffer, hardware conversion), then meet
     * every token group from arrays.
     */
    private static void f16Task(MemorySegment w, int rows, int cols, float[] x, int n, float[] out, int r0, int r1) {
        long rowBytes = (long) cols * 2;
        float[] buf = MatMul.rowBuffer(4 * cols);
        for (int r = r0; r < r1; r += 4) {
            int rowsHere = Math.min(4, r1 - r);
            for (int i = 0; i < rowsHere; i++) {
                MatMul.f16ToF32(w, (r + i) * rowBytes, cols, buf, i * cols);
            }
            for (int t0 = 0; t0 < n; t0 += 4) {
                int t1 = Math.min(t0 + 1, n - 1), t2 = Math.min(t0 + 2, n - 1), t3 = Math.min(t0 + 3, n - 1);
                if (rowsHere == 4) {
                    arrayTile4x4(buf, x, cols, t0, t1, t2, t3, out, rows, r);
                } else {
                    for (int i = 0; i < rowsHere; i++) {
                        for (int t : new int[] {t0, t1, t2, t3}) {
                            out[t * rows + r + i] = MatMul.dot(buf, i * cols, x, t * cols, cols);
                        }
                    }
                }
            }
        }
    }

    /** As {@link #f32Tile4x4} with the four rows in w[0, 4*cols) (row-major). */
    static void arrayTile4x4(float[] w, float[] x, int cols, int t0, int t1, int t2, int t3, float[] out, int rows,
                             int r) {
        int o1 = cols, o2 = 2 * cols, o3 = 3 * cols;
        int x0 = t0 * cols, x1 = t1 * cols, x2 = t2 * cols, x3 = t3 * cols;
        FloatVector a00 = FloatVector.zero(FS), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        int bound = FS.loopBound(cols);
        int c = 0;
        for (; c < bound; c += L) {
            FloatVector w0 = FloatVector.fromArray(FS, w, c);
            FloatVector w1 = FloatVector.fromArray(FS, w, o1 + c);
            FloatVector w2 = FloatVector.fromArray(FS, w, o2 + c);
            FloatVector w3 = FloatVector.fromArray(FS, w, o3 + c);
            FloatVector xv = FloatVector.fromArray(FS, x, x0 + c);
            a00 = w0.fma(xv, a00);
            a10 = w1.fma(xv, a10);
            a20 = w2.fma(xv, a20);
            a30 = w3.fma(xv, a30);
            xv = FloatVector.fromArray(FS, x, x1 + c);
            a01 = w0.fma(xv, a01);
            a11 = w1.fma(xv, a11);
            a21 = w2.fma(xv, a21);
            a31 = w3.fma(xv, a31);
            xv = FloatVector.fromArray(FS, x, x2 + c);
            a02 = w0.fma(xv, a02);
            a12 = w1.fma(xv, a12);
            a22 = w2.fma(xv, a22);
            a32 = w3.fma(xv, a32);
            xv = FloatVector.fromArray(FS, x, x3 + c);
            a03 = w0.fma(xv, a03);
            a13 = w1.fma(xv, a13);
            a23 = w2.fma(xv, a23);
            a33 = w3.fma(xv, a33);
        }
        float[] s = {
            Lanes.sum(a00), Lanes.sum(a01),
            Lanes.sum(a02), Lanes.sum(a03),
            Lanes.sum(a10), Lanes.sum(a11),
            Lanes.sum(a12), Lanes.sum(a13),
            Lanes.sum(a20), Lanes.sum(a21),
            Lanes.sum(a22), Lanes.sum(a23),
            Lanes.sum(a30), Lanes.sum(a31),
            Lanes.sum(a32), Lanes.sum(a33)};
        for (; c < cols; c++) {
            float v0 = w[c], v1 = w[o1 + c], v2 = w[o2 + c], v3 = w[o3 + c];
            float y0 = x[x0 + c], y1 = x[x1 + c], y2 = x[x2 + c], y3 = x[x3 + c];
            s[0] += v0 * y0; s[1] += v0 * y1; s[2] += v0 * y2; s[3] += v0 * y3;
            s[4] += v1 * y0; s[5] += v1 * y1; s[6] += v1 * y2; s[7] += v1 * y3;
            s[8] += v2 * y0; s[9] += v2 * y1; s[10] += v2 * y2; s[11] += v2 * y3;
            s[12] += v3 * y0; s[13] += v3 * y1; s[14] += v3 * y2; s[15] += v3 * y3;
        }
        store4x4(s, out, rows, r, t0, t1, t2, t3);
    }
}
