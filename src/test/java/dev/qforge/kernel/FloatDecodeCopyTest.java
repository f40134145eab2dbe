package dev.qforge.kernel;

import dev.qforge.kernel.blocks.F16Rebiased;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Decode of float matrices large enough for a huge-page copy (≥ 2 MiB), wide enough for column panels, with
 * widths that leave a ragged last panel.
 */
class FloatDecodeCopyTest {
    private static WeightMatrix matrix(String format, int rows, int cols, Random rnd) {
        return GaussianMatrices.quantized(BlockFormats.byName(format), rows, cols, rnd,
                Arena.ofAuto().allocate(rows * BlockFormats.byName(format).rowBytes(cols), 64));
    }

    /** One token through the decode path against the sums in doubles; x's element 5 is big. */
    private static void assertDecodeMatchesTheDefinition(WeightMatrix w, Random rnd, float big) {
        float[] x = new float[w.cols()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        x[5] = big;
        float[] out = new float[w.rows()];
        MatMul.matmul(w, x, 1, out);
        float[] row = new float[w.cols()];
        for (int r = 0; r < w.rows(); r++) {
            w.copyRowTo(r, row, 0);
            double expected = 0;
            double scale = 0;
            for (int c = 0; c < row.length; c++) {
                expected += (double) row[c] * x[c];
                scale += Math.abs((double) row[c] * x[c]);
            }
            assertEquals(expected, out[r], 1e-5 * scale + 1e-30, w.name() + " row " + r);
        }
    }

    @Test
    void wideMatricesAreCopiedInPanelsAndStillMultiplyRight() {
        Random rnd = new Random(1);
        for (String f : new String[] {"F32", "BF16", "F16"}) {
            // 4100 columns: panels of 2048, 2048 and 4; 4097 (odd): a last panel of one column
            for (int cols : new int[] {4100, 4097}) {
                WeightMatrix w = matrix(f, f.equals("F32") ? 160 : 300, cols, rnd);
                assertTrue(w.byteSize() >= 2L << 20, "the test needs a matrix the copy takes");
                if (f.equals("F16")) {
                    subnormalsIn(w, rnd);
                }
                zeroColumn(w, 5);
                FloatDecodeCopy.Decode d = FloatDecodeCopy.of(w);
                assertNotSame(w.data(), d.data(), "a copy was made");
                // F16 without its four-row kernel (AMD) is converted a row at a time and stays row-major
                assertEquals(f.equals("F16") && !MatMul.FOUR_ROWS ? cols : FloatDecodeCopy.PANEL_COLS, d.panelCols());
                assertEquals(f.equals("F16") && MatMul.FOUR_ROWS, d.rebiased());
                assertDecodeMatchesTheDefinition(w, rnd, 1);
                // an element of x too large for the F16 kernel's scaling (its column zero, so that the sums stay
                // comparable): the rows are converted instead
                assertDecodeMatchesTheDefinition(w, rnd, 1e8f);
            }
        }
    }

    private static void zeroColumn(WeightMatrix w, int c) {
        long size = w.byteSize() / ((long) w.rows() * w.cols());
        for (long r = 0; r < w.rows(); r++) {
            w.data().asSlice((r * w.cols() + c) * size, size).fill((byte) 0);
        }
    }

    /** The values, 100 zeros before them and after (past a vector's length, so both the vector loop and the tail run). */
    private static java.lang.foreign.MemorySegment f16s(short... values) {
        java.lang.foreign.MemorySegment s = Arena.ofAuto().allocate(2L * (values.length + 200), 64);
        for (int i = 0; i < values.length; i++) {
            s.set(dev.qforge.tensor.Tensor.I16, 2L * (100 + i), values[i]);
        }
        return s;
    }

    /** Every 50th F16 value of w made a subnormal (the re-encoding normalizes them). */
    private static void subnormalsIn(WeightMatrix w, Random rnd) {
        for (long b = 0; b < w.byteSize(); b += 100) {
            w.data().set(dev.qforge.tensor.Tensor.I16, b, (short) ((rnd.nextBoolean() ? 0x8000 : 0) | 1 + rnd.nextInt(0x3FF)));
        }
    }

    @Test
    void narrowMatricesStayRowMajor() {
        Random rnd = new Random(2);
        for (String f : new String[] {"BF16", "F16"}) {
            WeightMatrix narrow = matrix(f, 1100, 1024, rnd);
            FloatDecodeCopy.Decode d = FloatDecodeCopy.of(narrow);
            assertNotSame(narrow.data(), d.data(), "a copy was made");
            assertEquals(1024, d.panelCols());
            assertDecodeMatchesTheDefinition(narrow, rnd, 1);
        }
    }

    /**
     * F16 values that cannot be re-encoded (magnitude 128 or more, infinities, NaNs): where the F16 kernel runs, that
     * matrix is decoded in place, converted as it is, and an infinity or NaN comes out as one.
     */
    @Test
    void f16MatricesWithValuesThatCannotBeReencodedAreDecodedInPlace() {
        Random rnd = new Random(4);
        for (short bad : new short[] {(short) 0x5800, (short) 0x7C00, (short) 0xFC00, (short) 0x7E01}) {
            WeightMatrix w = matrix("F16", 300, 4096, rnd);
            w.data().set(dev.qforge.tensor.Tensor.I16, 2L * (123L * 4096 + 777), bad);
            FloatDecodeCopy.Decode d = FloatDecodeCopy.of(w);
            if (MatMul.FOUR_ROWS) {
                assertSame(w.data(), d.data(), "no copy");
            }
            assertFalse(d.rebiased());
            if (bad == (short) 0x5800) { // 128
                assertDecodeMatchesTheDefinition(w, rnd, 1);
                continue;
            }
            float[] x = new float[4096];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            float[] out = new float[300];
            MatMul.matmul(w, x, 1, out);
            assertTrue(Float.isNaN(out[123]) || Float.isInfinite(out[123]), "row 123 is " + out[123]);
            assertTrue(Float.isFinite(out[122]) && Float.isFinite(out[124]));
        }
        assertEquals(31, FloatDecodeCopy.maxF16Exponent(f16s((short) 0, (short) 0x7C00), 2L * 202));
        assertEquals(31, FloatDecodeCopy.maxF16Exponent(f16s((short) 0xFE00), 2L * 201));
        assertEquals(21, FloatDecodeCopy.maxF16Exponent(f16s((short) 0x57FF, (short) 0x83FF), 2L * 202));
        assertEquals(0, FloatDecodeCopy.maxF16Exponent(f16s((short) 0x8001), 2L * 201));
    }

    @Test
    void theSharedJobReadsPanelsToo() {
        Random rnd = new Random(3);
        WeightMatrix a = matrix("BF16", 300, 4096, rnd);
        WeightMatrix b = matrix("BF16", 40, 4096, rnd);
        float[] x = new float[4096];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[][] shared = {new float[300], new float[40]};
        MatMul.matvecShared(new WeightMatrix[] {a, b}, x, shared);
        float[] alone = new float[300];
        MatMul.matmul(a, x, 1, alone);
        org.junit.jupiter.api.Assertions.assertArrayEquals(alone, shared[0]);
        float[] alone2 = new float[40];
        MatMul.matmul(b, x, 1, alone2);
        org.junit.jupiter.api.Assertions.assertArrayEquals(alone2, shared[1]);
    }
}
