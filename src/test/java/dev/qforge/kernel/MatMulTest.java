package dev.qforge.kernel;

import dev.qforge.numeric.FloatBits;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class MatMulTest {
    private static final Arena ARENA = Arena.ofAuto();

    /** A tensor over a fresh segment at an odd byte offset (so nothing is aligned), filled from values. */
    private static Tensor tensor(DType dt, int rows, int cols, float[] values, int byteShift) {
        long bytes = (long) rows * cols * dt.byteSize();
        MemorySegment base = ARENA.allocate(bytes + 64, 64);
        MemorySegment seg = base.asSlice(byteShift, bytes);
        for (int i = 0; i < values.length; i++) {
            switch (dt) {
                case F32 -> seg.set(Tensor.F32, 4L * i, values[i]);
                case BF16 -> seg.set(Tensor.I16, 2L * i, FloatBits.floatToBf16(values[i]));
                case F16 -> seg.set(Tensor.I16, 2L * i, FloatBits.floatToF16(values[i]));
                default -> throw new AssertionError(dt);
            }
        }
        return new Tensor("w" + rows + "x" + cols, dt, new long[] {rows, cols}, seg.asReadOnly());
    }

    private static void check(DType dt, int rows, int cols, int n, long seed) {
        Random rnd = new Random(seed);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextGaussian() * 0.5f;
        }
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        Tensor t = tensor(dt, rows, cols, w, 1 + (int) (seed % 7));
        float[] out = new float[n * rows + 3];
        out[n * rows] = 42f; // a sentinel past the end stays untouched
        MatMul.matmul(t, x, n, out);
        assertEquals(42f, out[n * rows]);
        double tol = 1e-5 * Math.sqrt(cols);
        for (int tok = 0; tok < n; tok++) {
            for (int r = 0; r < rows; r++) {
                double ref = 0;
                double mag = 0;
                for (int c = 0; c < cols; c++) {
                    double p = (double) t.getFloat((long) r * cols + c) * x[tok * cols + c];
                    ref += p;
                    mag += Math.abs(p);
                }
                double got = out[tok * rows + r];
                if (Math.abs(got - ref) > tol * Math.max(mag, 1e-30) + 1e-30) {
                    fail(dt + " rows=" + rows + " cols=" + cols + " n=" + n + ": out[t=" + tok + ", r=" + r + "] = "
                            + got + ", expected " + ref + " (sum |terms| " + mag + ")");
                }
            }
        }
    }

    @Test
    void matchesReferenceOverOddShapes() {
        int[] colsList = {1, 7, 17, 64, 172, 2048 + 3};
        int[] rowsList = {1, 5, 4096};
        int[] ns = {1, 2, 5, 64};
        long seed = 1;
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            for (int cols : colsList) {
                for (int rows : rowsList) {
                    for (int n : ns) {
                        // Keep the scalar reference cheap: the large cases run with fewer combinations.
                        long work = (long) rows * cols * n;
                        if (work > 40_000_000L) {
                            continue;
                        }
                        check(dt, rows, cols, n, seed++);
                    }
                }
            }
        }
    }

    @Test
    void largeShapesAcrossTokenBlockAndKSliceBoundaries() {
        // n = 96 + 5: full token blocks plus a tail; cols > KC with a tail.
        check(DType.F32, 100, 1100, 101, 11);
        check(DType.BF16, 61, 1030, 40, 12);
        check(DType.F16, 49, 530, 17, 13);
        check(DType.F32, 4096, 2051, 2, 14);
        check(DType.F16, 4096, 172, 64, 15);
        // Few tokens (the small-batch path), including a last token group of 1, 2 and 3.
        check(DType.F32, 37, 300, 9, 16);
        check(DType.BF16, 37, 301, 10, 17);
        check(DType.F16, 37, 333, 11, 18);
        check(DType.BF16, 13, 64, 16, 19);
        // Enough tokens for the GEMM in every dtype (tails in rows, cols and tokens).
        check(DType.BF16, 50, 520, 97, 20);
        check(DType.F32, 13, 7, 130, 21);
        check(DType.F16, 25, 1, 33, 22);
        check(DType.F32, 1, 64, 96, 23);
    }

    @Test
    void unsupportedDtypeNamesTheTensor() {
        Tensor t = new Tensor("model.layers.0.q_proj.weight", DType.I8, new long[] {2, 2},
                ARENA.allocate(4));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MatMul.matmul(t, new float[2], 1, new float[2]));
        assertTrue(e.getMessage().contains("model.layers.0.q_proj.weight"), e.getMessage());
    }

    /**
     * Bit-identical, except that a NaN's quiet bit may differ: Float.float16ToFloat is compiled to
     * vcvtph2ps on x86, which quiets signaling NaNs, while the interpreter keeps them; either is allowed
     * by its specification. Sign and the rest of the payload must match. Covers subnormals, zeros,
     * infinities and NaNs of both signs.
     */
    private static boolean sameF16Result(float got, int expectedBits) {
        int g = Float.floatToRawIntBits(got);
        if (Float.isNaN(Float.intBitsToFloat(expectedBits))) {
            return Float.isNaN(got) && (g | 0x00400000) == (expectedBits | 0x00400000);
        }
        return g == expectedBits;
    }

    @Test
    void conversionMatchesScalarForAllF16AndBf16BitPatterns() {
        MemorySegment seg = ARENA.allocate(2 * 65536 + 3).asSlice(1, 2 * 65536 + 2);
        for (int i = 0; i < 65536; i++) {
            seg.set(Tensor.I16, 2L * i, (short) i);
        }
        float[] dst = new float[65536];
        for (DType dt : new DType[] {DType.F16, DType.BF16}) {
            // Repeated so that the JIT-compiled (vectorized) conversion is the one checked last.
            for (int rep = 0; rep < 300; rep++) {
                MatMul.rowToF32(seg, dt, 0, 65536, dst, 0);
            }
            for (int i = 0; i < 65536; i++) {
                float exp = dt == DType.F16 ? Float.float16ToFloat((short) i) : FloatBits.bf16ToFloat((short) i);
                assertTrue(sameF16Result(dst[i], Float.floatToRawIntBits(exp)), dt + " value " + i + ": got "
                        + Integer.toHexString(Float.floatToRawIntBits(dst[i])) + ", expected "
                        + Integer.toHexString(Float.floatToRawIntBits(exp)));
            }
        }
    }

    @Test
    void specialValuesPropagateInMatvec() {
        float[] w = {Float.POSITIVE_INFINITY, 0f, 1f, 2f};
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor t = tensor(dt, 2, 2, w, 3);
            float[] out = new float[2];
            MatMul.matmul(t, new float[] {1f, 1f}, 1, out);
            assertEquals(Float.POSITIVE_INFINITY, out[0], dt.toString());
            assertEquals(3f, out[1], dt.toString());
        }
    }
}
