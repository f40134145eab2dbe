package dev.qforge.kernel.blocks;

import dev.qforge.SharedData;
import dev.qforge.format.SafetensorsFile;
import dev.qforge.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The K-quant formats against llama.cpp's own bytes and floats (shared/data/reference/ggml-blocks):
 * 8 rows of 512 Gaussian weights at 8 scales with rare outliers and one all-zero block, quantized by
 * ggml_quantize_chunk without and with an importance vector, and dequantized by the type's to_float.
 * Every byte and every float bit must match.
 */
class KQuantReferenceTest {
    private static final int ROWS = 8;
    private static final int COLS = 512;

    /** The reference tensors of one type, copied out of the mapped file. */
    private record Vectors(float[] input, float[] importance, byte[] quant, float[] dequant, byte[] quantImatrix,
                           float[] dequantImatrix) {
        static Vectors load(BlockFormat f) {
            String file = "reference/ggml-blocks/" + f.name().toLowerCase(Locale.ROOT).replace("_k", "_K") + ".safetensors";
            try (SafetensorsFile st = SafetensorsFile.open(SharedData.require(file))) {
                assertEquals(String.valueOf(f.ggmlType()), st.metadata().get("ggml_type_id"));
                return new Vectors(st.tensor("input").toFloatArray(), st.tensor("importance").toFloatArray(),
                        bytes(st.tensor("quant")), st.tensor("dequant").toFloatArray(),
                        bytes(st.tensor("quant_imatrix")), st.tensor("dequant_imatrix").toFloatArray());
            }
        }

        private static byte[] bytes(Tensor t) {
            return t.data().toArray(ValueLayout.JAVA_BYTE);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void quantizeWithoutImportanceIsBitExact(String name) {
        BlockFormat f = BlockFormats.byName(name);
        Vectors v = Vectors.load(f);
        assertBytes(f, v.quant(), quantizeRows(f, v.input(), null), "without importance");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void quantizeWithImportanceIsBitExact(String name) {
        BlockFormat f = BlockFormats.byName(name);
        Vectors v = Vectors.load(f);
        assertBytes(f, v.quantImatrix(), quantizeRows(f, v.input(), v.importance()), "with importance");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void dequantizeIsBitExact(String name) {
        BlockFormat f = BlockFormats.byName(name);
        Vectors v = Vectors.load(f);
        assertFloats(v.dequant(), dequantizeRows(f, v.quant()), name + " dequant");
        assertFloats(v.dequantImatrix(), dequantizeRows(f, v.quantImatrix()), name + " dequant_imatrix");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void dotAgreesWithDequantizedWeights(String name) {
        BlockFormat f = BlockFormats.byName(name);
        Vectors v = Vectors.load(f);
        Random rnd = new Random(7);
        float[] x = new float[COLS + 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        int rowBytes = (int) f.rowBytes(COLS);
        // an odd byte offset: rows inside mapped files are not aligned
        MemorySegment seg = Arena.ofAuto().allocate(v.quant().length + 1L).asSlice(1);
        MemorySegment.copy(v.quant(), 0, seg, ValueLayout.JAVA_BYTE, 0, v.quant().length);
        for (int r = 0; r < ROWS; r++) {
            double ref = 0;
            double mag = 0;
            for (int c = 0; c < COLS; c++) {
                double p = (double) v.dequant()[r * COLS + c] * x[3 + c];
                ref += p;
                mag += Math.abs(p);
            }
            float got = f.dot(seg, (long) r * rowBytes, COLS, x, 3);
            assertEquals(ref, got, 1e-5 * mag + 1e-30, name + " row " + r);
        }
    }

    static byte[] quantizeRows(BlockFormat f, float[] input, float[] importance) {
        int rowBytes = (int) f.rowBytes(COLS);
        MemorySegment seg = Arena.ofAuto().allocate((long) ROWS * rowBytes);
        for (int r = 0; r < ROWS; r++) {
            f.quantize(input, r * COLS, COLS, importance, seg, (long) r * rowBytes);
        }
        return seg.toArray(ValueLayout.JAVA_BYTE);
    }

    static float[] dequantizeRows(BlockFormat f, byte[] quant) {
        int rowBytes = (int) f.rowBytes(COLS);
        MemorySegment seg = MemorySegment.ofArray(quant);
        float[] out = new float[ROWS * COLS];
        for (int r = 0; r < ROWS; r++) {
            f.dequantize(seg, (long) r * rowBytes, COLS, out, r * COLS);
        }
        return out;
    }

    /** Equal bytes, or a failure naming the blocks that differ (where a search diverged). */
    static void assertBytes(BlockFormat f, byte[] expected, byte[] actual, String what) {
        assertEquals(expected.length, actual.length);
        int bpb = f.bytesPerBlock();
        StringBuilder diff = new StringBuilder();
        int bad = 0;
        for (int b = 0; b < expected.length / bpb; b++) {
            for (int i = 0; i < bpb; i++) {
                if (expected[b * bpb + i] != actual[b * bpb + i]) {
                    if (bad++ < 6) {
                        diff.append(String.format(" block %d byte %d: expected %02x got %02x;", b, i,
                                expected[b * bpb + i] & 0xFF, actual[b * bpb + i] & 0xFF));
                    }
                    break;
                }
            }
        }
        if (bad > 0) {
            fail(f.name() + " " + what + ": " + bad + " of " + expected.length / bpb + " blocks differ:" + diff);
        }
    }

    static void assertFloats(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                fail(what + ": element " + i + " expected " + expected[i] + " got " + actual[i]);
            }
        }
        assertTrue(expected.length > 0);
    }
}
