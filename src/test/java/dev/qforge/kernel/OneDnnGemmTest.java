package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.numeric.FloatBits;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The oneDNN batch path against qforge's own F32 GEMM on the same weights: within the error of rounding
 * the activations (and expanded block weights) to BF16, over row counts that are not a multiple of
 * anything, several slices of rows, and token counts at and above the threshold; and the same bits on a
 * second call. Skipped (with the reason) where oneDNN cannot run: another OS or CPU, or no BF16 dot.
 */
class OneDnnGemmTest {
    private MatMulBackend before;

    @BeforeEach
    void nativeHere() {
        String problem = MatMulBackend.nativeProblem();
        Assumptions.assumeTrue(problem == null, "oneDNN's BF16 matmul cannot run here: " + problem);
        before = MatMulBackend.current();
    }

    @AfterEach
    void restore() {
        if (before != null) {
            MatMulBackend.set(before);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q4_0", "Q8_0", "Q4_K", "Q6_K", "IQ4_XS", "Q3_K"})
    void blockWeightsAgreeWithTheJavaGemm(String name) {
        BlockFormat f = BlockFormats.byName(name);
        int rows = 301;
        int cols = 512;
        Random rnd = new Random(5);
        WeightMatrix m = GaussianMatrices.quantized(f, rows, cols, rnd, Arena.ofAuto().allocate(rows * f.rowBytes(cols)));
        for (int n : new int[]{OneDnnGemm.MIN_TOKENS, 77}) {
            compare(name, n, rows, cols, rnd, (x, out) -> MatMul.matmul(m, x, n, out));
        }
    }

    @Test
    void bf16WeightsReadInPlaceAgreeWithTheJavaGemm() {
        int rows = 203;
        int cols = 384;
        Random rnd = new Random(6);
        MemorySegment data = Arena.ofAuto().allocate(2L * rows * cols);
        for (long i = 0; i < (long) rows * cols; i++) {
            data.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i,
                    FloatBits.floatToBf16((float) rnd.nextGaussian() * 0.05f));
        }
        Tensor t = new Tensor("test.bf16", DType.BF16, new long[]{rows, cols}, data);
        compare("BF16", 48, rows, cols, rnd, (x, out) -> MatMul.matmul(t, x, 48, out));
        // on the heap: copied into the native buffer a slice at a time instead of read in place
        Tensor onHeap = new Tensor("test.bf16.heap", DType.BF16, new long[]{rows, cols},
                MemorySegment.ofArray(data.toArray(ValueLayout.JAVA_BYTE)));
        compare("BF16 on the heap", 48, rows, cols, rnd, (x, out) -> MatMul.matmul(onHeap, x, 48, out));
    }

    @Test
    void f32WeightsAgreeWithTheJavaGemmToRounding() {
        int rows = 150;
        int cols = 272;
        Random rnd = new Random(7);
        MemorySegment data = Arena.ofAuto().allocate(4L * rows * cols);
        for (long i = 0; i < (long) rows * cols; i++) {
            data.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, (float) rnd.nextGaussian());
        }
        Tensor t = new Tensor("test.f32", DType.F32, new long[]{rows, cols}, data);
        Tensor onHeap = new Tensor("test.f32.heap", DType.F32, new long[]{rows, cols},
                MemorySegment.ofArray(data.toArray(ValueLayout.JAVA_BYTE)));
        float[] x = new float[40 * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        MatMulBackend.set(MatMulBackend.JAVA);
        float[] java = new float[40 * rows];
        MatMul.matmul(t, x, 40, java);
        MatMulBackend.set(MatMulBackend.ONEDNN);
        for (Tensor w : new Tensor[]{t, onHeap}) {
            float[] dnnl = new float[40 * rows];
            MatMul.matmul(w, x, 40, dnnl);
            // F32 both ways, summed in another order: a few ulps of the sum's magnitude (|dot| ~ sqrt(272) ≈ 16)
            for (int i = 0; i < java.length; i++) {
                assertEquals(java[i], dnnl[i], 2e-4f, w.name() + " element " + i);
            }
        }
    }

    @Test
    void aFailingNativeCallFallsBackToTheJavaGemmForThisAndLaterBatches() {
        int rows = 96;
        int cols = 256;
        int n = OneDnnGemm.MIN_TOKENS + 3;
        Random rnd = new Random(8);
        WeightMatrix m = GaussianMatrices.quantized(BlockFormats.byName("Q4_0"), rows, cols, rnd,
                Arena.ofAuto().allocate(rows * BlockFormats.byName("Q4_0").rowBytes(cols)));
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        MatMulBackend.set(MatMulBackend.JAVA);
        float[] java = new float[n * rows];
        MatMul.matmul(m, x, n, java);
        MatMulBackend.set(MatMulBackend.ONEDNN);
        int[] calls = {0};
        OneDnnGemm.useNativeCall((input, src, w, stride, dst, tokens, r, c, threads) -> {
            calls[0]++;
            throw new IllegalStateException("oneDNN matmul failed: simulated");
        });
        try {
            for (int batch = 0; batch < 2; batch++) {
                float[] out = new float[n * rows];
                Arrays.fill(out, Float.NaN);
                MatMul.matmul(m, x, n, out);
                assertArrayEquals(java, out, "batch " + batch + ": the Java GEMM's result, every element written");
            }
            assertEquals(1, calls[0], "only the first batch tries oneDNN");
            assertTrue(MatMulBackend.describe().contains("oneDNN failed"), MatMulBackend.describe());
        } finally {
            OneDnnGemm.useNativeCall(null);
        }
    }

    private interface Product {
        void into(float[] x, float[] out);
    }

    private static void compare(String what, int n, int rows, int cols, Random rnd, Product product) {
        float[] x = new float[n * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        MatMulBackend.set(MatMulBackend.JAVA);
        float[] java = new float[n * rows];
        product.into(x, java);
        MatMulBackend.set(MatMulBackend.ONEDNN);
        float[] dnnl = new float[n * rows];
        product.into(x, dnnl);
        double err = 0;
        double norm = 0;
        for (int i = 0; i < java.length; i++) {
            err += Math.pow(dnnl[i] - java[i], 2);
            norm += Math.pow(java[i], 2);
        }
        // BF16 keeps 8 significant bits: ~0.2 % per rounded element, ~0.3 % on a dot of Gaussian terms
        // (x and the weights both rounded); a wrong layout or stride is off by ~100 %.
        double relative = Math.sqrt(err / norm);
        assertTrue(relative < 6e-3, what + " n=" + n + ": relative error " + relative);
        assertTrue(relative > 0, what + ": identical to the F32 GEMM, so the native path did not run");
        float[] again = new float[n * rows];
        product.into(x, again);
        assertArrayEquals(dnnl, again, what + ": a second call gave other bits");
    }

    @Test
    void activationsRoundToBf16AsTheScalarDefinition() {
        float[] x = {0f, -0f, 1f, 1.00390625f, 1.005859375f, 1.0078125f, -2.5f, Float.MIN_VALUE, Float.MAX_VALUE,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN, Float.intBitsToFloat(0x7F800001),
                Float.intBitsToFloat(0xFFFFFFFF), 3.4e38f, 1e-40f, 0.1f, -0.3f, 65504f, 7f, 8f, 9f, 1e-30f, 12345.678f};
        float[] many = new float[x.length * 3 + 5]; // vector part and scalar tail
        for (int i = 0; i < many.length; i++) {
            many[i] = x[i % x.length] * (i < x.length ? 1 : 1.0001f);
        }
        MemorySegment dst = Arena.ofAuto().allocate(2L * many.length);
        BlockFormats.byName("BF16").quantize(many, 0, many.length, null, dst, 0);
        for (int i = 0; i < many.length; i++) {
            assertEquals(FloatBits.floatToBf16(many[i]), dst.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i),
                    "element " + i + " = " + many[i]);
        }
    }

    @Test
    void anUnknownBackendNameIsAnError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MatMulBackend.parse("cuda"));
        assertTrue(e.getMessage().contains("java, onednn or auto"), e.getMessage());
    }
}
