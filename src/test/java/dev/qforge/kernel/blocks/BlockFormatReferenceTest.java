package dev.qforge.kernel.blocks;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every format against llama.cpp's bytes (b4748): quantize row by row (one call per row, as ggml does,
 * since the importance path's σ² is per row) without and with importance, and dequantize llama.cpp's
 * bytes to the very same floats.
 */
class BlockFormatReferenceTest {
    @ParameterizedTest
    @ValueSource(strings = {"f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0"})
    void quantizeIsBitExactWithoutImportance(String type) {
        ReferenceVectors v = ReferenceVectors.load(type);
        assertBytes(type, v.quant(), quantize(BlockFormats.byName(type), v, null));
    }

    @ParameterizedTest
    @ValueSource(strings = {"f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0"})
    void quantizeIsBitExactWithImportance(String type) {
        ReferenceVectors v = ReferenceVectors.load(type);
        assertBytes(type + " imatrix", v.quantImatrix(), quantize(BlockFormats.byName(type), v, v.importance()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0"})
    void dequantizeIsBitExact(String type) {
        ReferenceVectors v = ReferenceVectors.load(type);
        BlockFormat f = BlockFormats.byName(type);
        assertFloats(type, v.dequant(), dequantize(f, v, v.quant()));
        assertFloats(type + " imatrix", v.dequantImatrix(), dequantize(f, v, v.quantImatrix()));
    }

    /** The lattice formats qforge writes: ggml's grid searches, which need importance, bit for bit. */
    @ParameterizedTest
    @ValueSource(strings = {"iq2_xxs", "iq2_xs", "iq1_s"})
    void latticeFormatsQuantizeBitExactlyWithImportanceAndRefuseWithout(String type) {
        ReferenceVectors v = ReferenceVectors.load(type);
        BlockFormat f = BlockFormats.byName(type);
        assertTrue(f.canQuantize() && f.needsImportance(), type);
        assertBytes(type + " imatrix", v.quantImatrix(), quantize(f, v, v.importance()));
        assertFloats(type + " imatrix", v.dequantImatrix(), dequantize(f, v, v.quantImatrix()));
        QforgeException e = assertThrows(QforgeException.class, () -> quantize(f, v, null));
        assertTrue(e.getMessage().contains("needs an importance matrix"), e.getMessage());
    }

    /** A lattice format whose importance is optional: llama.cpp's bytes with and without. */
    @ParameterizedTest
    @ValueSource(strings = {"iq3_xxs", "iq3_s", "iq2_s"})
    void latticeFormatsQuantizeBitExactlyWithAndWithoutImportance(String type) {
        ReferenceVectors v = ReferenceVectors.load(type);
        BlockFormat f = BlockFormats.byName(type);
        assertTrue(f.canQuantize() && !f.needsImportance(), type);
        assertBytes(type + " imatrix", v.quantImatrix(), quantize(f, v, v.importance()));
        assertBytes(type, v.quant(), quantize(f, v, null));
        assertFloats(type + " imatrix", v.dequantImatrix(), dequantize(f, v, v.quantImatrix()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "iq4_nl", "iq4_xs", "tq1_0", "tq2_0",
            "iq1_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s"})
    void dotOfLlamaCppBytesMatchesItsDequantization(String type) {
        ReferenceVectors v = ReferenceVectors.load(type);
        BlockFormat f = BlockFormats.byName(type);
        MemorySegment seg = MemorySegment.ofArray(v.quantImatrix());
        float[] x = v.input()[3]; // any activations will do; a weight row has the right spread
        for (int r = 0; r < ReferenceVectors.ROWS; r++) {
            double expected = 0;
            double magnitude = 0;
            for (int c = 0; c < ReferenceVectors.COLS; c++) {
                expected += (double) v.dequantImatrix()[r][c] * x[c];
                magnitude += Math.abs((double) v.dequantImatrix()[r][c] * x[c]);
            }
            float got = f.dot(seg, (long) r * v.rowBytes(), ReferenceVectors.COLS, x, 0);
            assertEquals(expected, got, 1e-5 * magnitude + 1e-30, type + " row " + r);
        }
    }

    static byte[] quantize(BlockFormat f, ReferenceVectors v, float[] importance) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate((long) v.rowBytes() * ReferenceVectors.ROWS);
            for (int r = 0; r < ReferenceVectors.ROWS; r++) {
                f.quantize(v.input()[r], 0, ReferenceVectors.COLS, importance, out, (long) r * v.rowBytes());
            }
            return out.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /**
     * IQ1_M: all rows in one call, as ggml's quantize_iq1_m made the vectors — its buffer of shifts outlives a row,
     * and the last row's first sub-blocks are zeros, which keep the shift of the row before (see IQ1MFormat).
     */
    @Test
    void iq1mRowsInOneCallAreLlamaCppsBytes() {
        ReferenceVectors v = ReferenceVectors.load("iq1_m");
        BlockFormat f = BlockFormats.byName("iq1_m");
        int rows = ReferenceVectors.ROWS;
        int cols = ReferenceVectors.COLS;
        float[] all = new float[rows * cols];
        float[] importance = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(v.input()[r], 0, all, r * cols, cols);
            System.arraycopy(v.importance(), 0, importance, r * cols, cols);
        }
        for (float[] imp : new float[][]{importance, null}) {
            byte[] out = new byte[Math.toIntExact(rows * v.rowBytes())];
            f.quantize(all, 0, rows * cols, imp, MemorySegment.ofArray(out), 0);
            assertBytes("iq1_m " + (imp == null ? "" : "imatrix") + " in one call", imp == null ? v.quant() : v.quantImatrix(), out);
        }
    }

    static float[][] dequantize(BlockFormat f, ReferenceVectors v, byte[] quant) {
        MemorySegment seg = MemorySegment.ofArray(quant);
        float[][] out = new float[ReferenceVectors.ROWS][ReferenceVectors.COLS];
        for (int r = 0; r < ReferenceVectors.ROWS; r++) {
            f.dequantize(seg, (long) r * v.rowBytes(), ReferenceVectors.COLS, out[r], 0);
        }
        return out;
    }

    /** Fails with the first differing block and how many blocks differ, which says more than a byte index. */
    static void assertBytes(String what, byte[] expected, byte[] actual) {
        assertEquals(expected.length, actual.length, what + ": length");
        if (Arrays.equals(expected, actual)) {
            return;
        }
        int first = Arrays.mismatch(expected, actual);
        int diff = 0;
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                diff++;
            }
        }
        fail(what + ": " + diff + " of " + expected.length + " bytes differ, first at byte " + first
                + " (expected " + (expected[first] & 0xFF) + ", got " + (actual[first] & 0xFF) + ")");
    }

    static void assertFloats(String what, float[][] expected, float[][] actual) {
        for (int r = 0; r < expected.length; r++) {
            for (int c = 0; c < expected[r].length; c++) {
                if (Float.floatToRawIntBits(expected[r][c]) != Float.floatToRawIntBits(actual[r][c])) {
                    fail(what + ": row " + r + " col " + c + ": expected " + expected[r][c] + ", got " + actual[r][c]);
                }
            }
        }
    }
}
