package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

    private static void assertDecodeMatchesTheDefinition(WeightMatrix w, Random rnd) {
        float[] x = new float[w.cols()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
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
        for (String f : new String[] {"F32", "BF16"}) {
            // 4100 columns: panels of 2048, 2048 and 4; 4097 (odd): a last panel of one column
            for (int cols : new int[] {4100, 4097}) {
                WeightMatrix w = matrix(f, f.equals("F32") ? 160 : 300, cols, rnd);
                assertTrue(w.byteSize() >= 2L << 20, "the test needs a matrix the copy takes");
                FloatDecodeCopy.Decode d = FloatDecodeCopy.of(w);
                assertNotSame(w.data(), d.data(), "a copy was made");
                assertEquals(FloatDecodeCopy.PANEL_COLS, d.panelCols());
                assertDecodeMatchesTheDefinition(w, rnd);
            }
        }
    }

    @Test
    void narrowAndF16MatricesStayRowMajor() {
        Random rnd = new Random(2);
        WeightMatrix narrow = matrix("BF16", 1100, 1024, rnd);
        assertEquals(1024, FloatDecodeCopy.of(narrow).panelCols());
        assertDecodeMatchesTheDefinition(narrow, rnd);
        WeightMatrix f16 = matrix("F16", 300, 4096, rnd);
        assertEquals(4096, FloatDecodeCopy.of(f16).panelCols());
        assertDecodeMatchesTheDefinition(f16, rnd);
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
