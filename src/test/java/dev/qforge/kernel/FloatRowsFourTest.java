package dev.qforge.kernel;

import dev.qforge.kernel.blocks.F16Rebiased;
import dev.qforge.numeric.FloatBits;
import dev.qforge.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.function.BiFunction;
import java.util.function.Function;

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

    /** A 16-bit float kernel pair: the four-row dot into out[0 ..), and the one-row dot of the row at o. */
    private interface HalfKernels {
        void four(MemorySegment w, long stride, float[] x, float[][] split, int cols, float[] out);

        float one(MemorySegment w, long o, float[] x, float[][] split, int cols);
    }

    /** Four rows of 16-bit values (each made by value from a random source) through both kernels, bit for bit. */
    private static void assertFourRowsAreOneRowDots(String name, Random rnd, Function<Random, Short> value,
                                                    BiFunction<float[], Integer, float[][]> split, HalfKernels kernels) {
        for (int cols : WIDTHS) {
            long stride = cols * 2L + 6;
            MemorySegment w = Arena.ofAuto().allocate(4 * stride + 2 + 64, 64).asSlice(2);
            for (long b = 0; b + 2 <= 4 * stride; b += 2) {
                w.set(Tensor.I16, b, value.apply(rnd));
            }
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            float[][] xs = split.apply(x, cols);
            float[] out = new float[4];
            kernels.four(w, stride, x, xs, cols, out);
            for (int i = 0; i < 4; i++) {
                float one = kernels.one(w, i * stride, x, xs, cols);
                assertEquals(Float.floatToRawIntBits(one), Float.floatToRawIntBits(out[i]), name + " cols " + cols + " row " + i);
            }
        }
    }

    @Test
    void bf16RowsAreTheOneRowDotsBitForBit() {
        assertFourRowsAreOneRowDots("BF16", new Random(6), r -> FloatBits.floatToBf16((float) r.nextGaussian()),
                MatMul::splitEvenOdd, new HalfKernels() {
                    public void four(MemorySegment w, long stride, float[] x, float[][] s, int cols, float[] out) {
                        FloatRowsFour.bf16(w, 0, stride, x, 0, s[0], s[1], 0, cols, out, 0);
                    }

                    public float one(MemorySegment w, long o, float[] x, float[][] s, int cols) {
                        return MatMul.bf16Dot1(w, o, x, 0, s[0], s[1], 0, cols);
                    }
                });
    }

    @Test
    void f16RowsAreTheOneRowDotsBitForBit() {
        // re-encoded, some subnormals among them (σ 1e-4: ~40 % below 2^-14)
        assertFourRowsAreOneRowDots("F16", new Random(7), r -> (short) F16Rebiased.of(
                        Float.floatToFloat16((float) (r.nextGaussian() * (r.nextBoolean() ? 1 : 1e-4)))),
                MatMul::splitEvenOddScaled, new HalfKernels() {
                    public void four(MemorySegment w, long stride, float[] x, float[][] s, int cols, float[] out) {
                        FloatRowsFour.f16(w, 0, stride, x, 0, s[0], s[1], 0, cols, out, 0);
                    }

                    public float one(MemorySegment w, long o, float[] x, float[][] s, int cols) {
                        return MatMul.f16Dot1(w, o, x, 0, s[0], s[1], 0, cols);
                    }
                });
    }

    /**
     * The F16 kernel reads re-encoded bits shifted into a float and x scaled: each product must be exactly the
     * converted weight's. With one nonzero x per row the dot is one product, so every F16 value that can be re-encoded
     * (subnormals, zeros of both signs, up to 127.94) is checked against {@link Float#float16ToFloat} times x bit for
     * bit, at both positions of a pair (and in a tail, past the last vector), with x near the scaling's limit and in
     * the float subnormals.
     */
    @Test
    void f16ProductsAreThoseOfTheConvertedWeightsForEveryValueThatCanBeReencoded() {
        int cols = 67;
        MemorySegment w = Arena.ofAuto().allocate(cols * 2L, 64);
        float[] xs = {1f, -0.3f, 0x1p25f - 4, 1e-40f, 3e-3f};
        int checked = 0;
        for (int bits = 0; bits < 1 << 16; bits++) {
            int r = F16Rebiased.of(bits);
            if (((bits >>> 10) & 0x1F) > F16Rebiased.MAX_EXPONENT) {
                assertEquals(-1, r, "0x" + Integer.toHexString(bits) + " cannot be re-encoded");
                continue;
            }
            assertEquals(Float.floatToRawIntBits(Float.float16ToFloat((short) bits)),
                    Float.floatToRawIntBits(F16Rebiased.toFloat(r)), "0x" + Integer.toHexString(bits) + " re-encoded");
            for (long b = 0; b < cols * 2L; b += 2) {
                w.set(Tensor.I16, b, (short) r);
            }
            for (float xv : xs) {
                for (int at : new int[] {6, 7, 66}) {
                    float[] x = new float[cols];
                    x[at] = xv;
                    float[][] split = MatMul.splitEvenOddScaled(x, cols);
                    float got = MatMul.f16Dot1(w, 0, x, 0, split[0], split[1], 0, cols);
                    float want = Float.float16ToFloat((short) bits) * xv;
                    if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits(want) && !(got == 0f && want == 0f)) {
                        assertEquals(want, got, "f16 bits 0x" + Integer.toHexString(bits) + " times " + xv);
                    }
                }
            }
            checked++;
        }
        assertEquals(2 * (22 * 1024), checked, "values with exponent fields 0-21, both signs");
    }

    @Test
    void xTooLargeForTheF16ScalingIsRefused() {
        float[] x = new float[10];
        x[3] = F16Rebiased.X_LIMIT;
        org.junit.jupiter.api.Assertions.assertNull(MatMul.splitEvenOddScaled(x, 10));
        x[3] = Float.NaN;
        org.junit.jupiter.api.Assertions.assertNull(MatMul.splitEvenOddScaled(x, 10));
        x[3] = -Float.POSITIVE_INFINITY;
        org.junit.jupiter.api.Assertions.assertNull(MatMul.splitEvenOddScaled(x, 10));
        x[3] = F16Rebiased.X_LIMIT - 2;
        org.junit.jupiter.api.Assertions.assertNotNull(MatMul.splitEvenOddScaled(x, 10));
    }
}
