package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Block scales at both ends of the f16 range through the decode products: subnormal ones (small weights), which the
 * Q8_0, Q4_0 and Q4_K layouts keep re-encoded, and scales of 128 or more, which the re-encoding cannot hold, so that
 * matrix decodes by the format's row dots.
 */
class ScaleRangeTest {
    private static final int ROWS = 100;
    private static final int COLS = 512;

    private static WeightMatrix matrix(String format, float sigma, Random rnd) {
        BlockFormat f = BlockFormats.byName(format);
        MemorySegment data = Arena.ofAuto().allocate(ROWS * f.rowBytes(COLS), 64);
        float[] w = new float[COLS];
        for (int r = 0; r < ROWS; r++) {
            for (int c = 0; c < COLS; c++) {
                w[c] = (float) rnd.nextGaussian() * sigma;
            }
            f.quantize(w, 0, COLS, null, data, r * f.rowBytes(COLS));
        }
        return new WeightMatrix(format, f, ROWS, COLS, data);
    }

    /** The decode product against each row's own dot (dequantized weights times x, in doubles). */
    private static void assertDecodeIsTheRowDots(WeightMatrix w, Random rnd) {
        float[] x = new float[COLS];
        for (int i = 0; i < COLS; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] out = new float[ROWS];
        MatMul.matmul(w, x, 1, out);
        float[] row = new float[COLS];
        for (int r = 0; r < ROWS; r++) {
            w.copyRowTo(r, row, 0);
            double expected = 0;
            double scale = 0;
            for (int c = 0; c < COLS; c++) {
                expected += (double) row[c] * x[c];
                scale += Math.abs((double) row[c] * x[c]);
            }
            // the decode kernels quantize x to 8 bits: a few parts in a thousand of the products' magnitude
            assertEquals(expected, out[r], 0.01 * scale, w.name() + " row " + r);
            assertTrue(scale > 0 && scale < 1e30, w.name() + " row " + r + " has a usable scale");
        }
    }

    @Test
    void subnormalScalesDecodeRight() {
        Random rnd = new Random(1);
        for (String f : new String[] {"Q8_0", "Q4_0", "Q4_K"}) {
            // σ 1e-4: Q8_0 scales near 2e-6, far below the least normal f16 (6.1e-5)
            WeightMatrix w = matrix(f, 1e-4f, rnd);
            float d = Float.float16ToFloat(w.data().get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0));
            assertTrue(d != 0 && Math.abs(d) < 0x1p-14f, f + ": the test needs a subnormal scale, got " + d);
            assertEquals(jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512,
                    InterleavedMatVec.supports(w), f + " decodes through its layout where the vectors are wide enough");
            assertDecodeIsTheRowDots(w, rnd);
        }
    }

    @Test
    void scalesTheLayoutCannotHoldDecodeByTheRowDots() {
        Random rnd = new Random(2);
        for (String f : new String[] {"Q8_0", "Q4_0", "Q4_K"}) {
            WeightMatrix w = matrix(f, 0.02f, rnd);
            // row 37's block 3: d = 128 (f16 0x5800; the first bytes of a block in all three), its weights 128·q
            long block = 37 * w.rowBytes() + 3L * BlockFormats.byName(f).bytesPerBlock();
            w.data().set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, block, (short) 0x5800);
            assertFalse(InterleavedMatVec.supports(w), f + " with a scale of 128");
            assertDecodeIsTheRowDots(w, rnd);
        }
    }
}
