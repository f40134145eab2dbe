package dev.qforge.kernel;

import dev.qforge.numeric.FloatBits;
import dev.qforge.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The four-row float decode dots give each row the same bits as the one-row dots, tails and odd offsets included. */
class FloatRowsFourTest {
    private static final int[] WIDTHS = {2048, 37, 16, 100, 258, 1, 47};

    @Test
    void f32RowsAreTheOneRowDotsBitForBit() {
        Random rnd = new Random(5);
        for (int cols : WIDTHS) {
            long stride = cols * 4L + 8; // rows apart by more than their width, as in a panel copy's neighbours
            MemorySegment w = Arena.ofAuto().allocate(4 * stride + 4 + 64, 64).asSlice(4);
            for (long b = 0; b + 4 <= 4 * stride; b += 4) {
                w.set(Tensor.F32, b, (float) rnd.nextGaussian());
            }
            float[] x = new float[cols + 3];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            float[] out = new float[6];
            FloatRowsFour.f32(w, 0, stride, x, 3, cols, out, 2);
            for (int i = 0; i < 4; i++) {
                float one = MatMul.f32Dot1(w, i * stride, x, 3, cols);
                assertEquals(Float.floatToRawIntBits(one), Float.floatToRawIntBits(out[2 + i]), "F32 cols " + cols + " row " + i);
            }
        }
    }

    @Test
    void bf16RowsAreTheOneRowDotsBitForBit() {
        Random rnd = new Random(6);
        for (int cols : WIDTHS) {
            long stride = cols * 2L + 6;
            MemorySegment w = Arena.ofAuto().allocate(4 * stride + 2 + 64, 64).asSlice(2);
            for (long b = 0; b + 2 <= 4 * stride; b += 2) {
                w.set(Tensor.I16, b, FloatBits.floatToBf16((float) rnd.nextGaussian()));
            }
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            float[][] split = MatMul.splitEvenOdd(x, cols);
            float[] out = new float[4];
            FloatRowsFour.bf16(w, 0, stride, x, 0, split[0], split[1], 0, cols, out, 0);
            for (int i = 0; i < 4; i++) {
                float one = MatMul.bf16Dot1(w, i * stride, x, 0, split[0], split[1], 0, cols);
                assertEquals(Float.floatToRawIntBits(one), Float.floatToRawIntBits(out[i]), "BF16 cols " + cols + " row " + i);
            }
        }
    }
}
