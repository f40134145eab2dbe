package dev.qforge.kernel.blocks;

import dev.qforge.QforgeException;
import dev.qforge.numeric.FloatBits;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Properties that hold without reference data: dot vs dequantize, round trips, registry, edge values. */
class BlockFormatBehaviourTest {
    /** The formats qforge writes (the read-only lattice ones are checked on llama.cpp's bytes instead). */
    static List<BlockFormat> formats() {
        return BlockFormats.all().stream().filter(BlockFormat::canQuantize).toList();
    }

    /** Gaussian rows with a scale per row and rare outliers, like real weight rows. */
    private static float[] randomRow(Random rnd, int n, float scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian() * scale * (rnd.nextInt(100) == 0 ? 8 : 1);
        }
        return x;
    }

    private static double dequantizedDot(float[] w, float[] x, int xOff) {
        double s = 0;
        for (int i = 0; i < w.length; i++) {
            s += (double) w[i] * x[xOff + i];
        }
        return s;
    }

    @ParameterizedTest
    @MethodSource("formats")
    void dotMatchesDotOfTheDequantizedRow(BlockFormat f) {
        Random rnd = new Random(7);
        int n = 1024;
        float[] x = randomRow(rnd, n + 5, 1f);
        MemorySegment rows = MemorySegment.ofArray(new byte[(int) f.rowBytes(n) * 3 + 7]);
        for (int r = 0; r < 3; r++) {
            float[] w = randomRow(rnd, n, 0.02f * (r + 1));
            long off = 7 + r * f.rowBytes(n); // odd offsets: rows in files are not aligned
            f.quantize(w, 0, n, plainImportance(f, n), rows, off);
            float[] deq = new float[n];
            f.dequantize(rows, off, n, deq, 0);
            double expected = dequantizedDot(deq, x, 5);
            double magnitude = 0;
            for (int i = 0; i < n; i++) {
                magnitude += Math.abs((double) deq[i] * x[5 + i]);
            }
            // float accumulation in another order: error well under 1e-5 of Σ|w·x|
            assertEquals(expected, f.dot(rows, off, n, x, 5), 1e-5 * magnitude, f.name() + " row " + r);
        }
    }

    @ParameterizedTest
    @MethodSource("formats")
    void roundTripOfRandomRowsStaysCloseWithAndWithoutImportance(BlockFormat f) {
        Random rnd = new Random(11);
        int n = Math.max(256, f.blockSize()) * 3; // 768: an odd number of 256-blocks and 32-blocks
        float[] importance = new float[n];
        for (int i = 0; i < n; i++) {
            importance[i] = 0.1f + rnd.nextFloat();
        }
        for (int rows = 1; rows <= 5; rows += 2) { // odd row counts, each row quantized on its own
            for (float[] imp : f.needsImportance() ? new float[][]{importance} : new float[][]{null, importance}) {
                double err = 0;
                double norm = 0;
                for (int r = 0; r < rows; r++) {
                    float[] w = randomRow(rnd, n, 0.05f);
                    MemorySegment q = MemorySegment.ofArray(new byte[(int) f.rowBytes(n)]);
                    f.quantize(w, 0, n, imp, q, 0);
                    float[] back = new float[n];
                    f.dequantize(q, 0, n, back, 0);
                    for (int i = 0; i < n; i++) {
                        err += (w[i] - back[i]) * (double) (w[i] - back[i]);
                        norm += w[i] * (double) w[i];
                    }
                }
                // ~uniform quantization: relative MSE about 2^-2b; 2^(4-2b) leaves room for outliers and
                // block-scale overhead. The half floats count their significand bits.
                double bits = switch (f.name()) {
                    case "F32" -> 24;
                    case "F16" -> 11;
                    case "BF16" -> 8;
                    // Q8_K: 9.125 bpw counts its bsums; its quants are ±127 under one scale per 256
                    // weights, so a row's outliers cost it about one bit
                    case "Q8_K" -> 7;
                    default -> f.bitsPerWeight();
                };
                double bound = Math.pow(2, 4 - 2 * bits);
                assertTrue(err / norm < bound, f.name() + ": relative MSE " + err / norm + " over " + bound);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("formats")
    void allZeroRowDequantizesToZeros(BlockFormat f) {
        int n = 512;
        MemorySegment q = MemorySegment.ofArray(new byte[(int) f.rowBytes(n)]);
        f.quantize(new float[n], 0, n, plainImportance(f, n), q, 0);
        float[] back = new float[n];
        f.dequantize(q, 0, n, back, 0);
        for (float v : back) {
            assertEquals(0f, Math.abs(v));
        }
        assertEquals(0f, f.dot(q, 0, n, new float[n], 0));
    }

    @ParameterizedTest
    @MethodSource("formats")
    void quantizeReadsAndWritesAtTheGivenOffsets(BlockFormat f) {
        int n = 256;
        float[] src = randomRow(new Random(3), n + 32, 1f);
        MemorySegment a = MemorySegment.ofArray(new byte[(int) f.rowBytes(n)]);
        MemorySegment b = MemorySegment.ofArray(new byte[(int) f.rowBytes(n) + 13]);
        f.quantize(java.util.Arrays.copyOfRange(src, 32, 32 + n), 0, n, plainImportance(f, n), a, 0);
        f.quantize(src, 32, n, plainImportance(f, n), b, 13);
        assertEquals(-1L, a.mismatch(b.asSlice(13)), f.name());
        float[] out = new float[n + 9];
        float[] ref = new float[n];
        f.dequantize(a, 0, n, ref, 0);
        f.dequantize(b, 13, n, out, 9);
        assertEquals(-1, java.util.Arrays.mismatch(ref, 0, n, out, 9, 9 + n));
    }

    @Test
    void registryFindsEveryFormatByNameAndGgmlId() {
        for (String name : new String[]{"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "IQ4_XS"}) {
            BlockFormat f = BlockFormats.byName(name);
            GgmlType t = GgmlType.valueOf(name);
            assertEquals(name, f.name());
            assertEquals(t.id(), f.ggmlType());
            assertEquals(t.blockSize(), f.blockSize());
            assertEquals(t.bytesPerBlock(), f.bytesPerBlock());
            assertSame(f, BlockFormats.byGgmlType(t.id()));
            assertSame(f, BlockFormats.byName(name.toLowerCase(java.util.Locale.ROOT)));
        }
        assertEquals(4.5, BlockFormats.byName("q4_0").bitsPerWeight());
        assertEquals(4.25, BlockFormats.byName("iq4_xs").bitsPerWeight());
        assertThrows(QforgeException.class, () -> BlockFormats.byName("Q3_X"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q4_0", "Q8_0", "IQ4_XS"})
    void rowsThatAreNotWholeBlocksAreRefused(String name) {
        BlockFormat f = BlockFormats.byName(name);
        int n = f.blockSize() + 1;
        assertThrows(IllegalArgumentException.class,
                () -> f.quantize(new float[n], 0, n, null, MemorySegment.ofArray(new byte[1024]), 0));
    }

    @Test
    void bf16RoundsToNearestEvenAndKeepsNaN() {
        BlockFormat f = BlockFormats.byName("BF16");
        float tie = Float.intBitsToFloat(0x3F808000); // exactly halfway between two bf16 values, even below
        float[] src = {tie, Float.intBitsToFloat(0x3F818000), Float.NaN, Float.intBitsToFloat(0x7F800001),
                Float.POSITIVE_INFINITY, -0f};
        MemorySegment q = MemorySegment.ofArray(new byte[2 * src.length]);
        f.quantize(src, 0, src.length, null, q, 0);
        float[] back = new float[src.length];
        f.dequantize(q, 0, src.length, back, 0);
        assertEquals(Float.intBitsToFloat(0x3F800000), back[0]);
        assertEquals(Float.intBitsToFloat(0x3F820000), back[1]);
        assertTrue(Float.isNaN(back[2]));
        assertTrue(Float.isNaN(back[3]), "a signalling NaN whose payload is below bf16 precision stays NaN");
        assertEquals(Float.POSITIVE_INFINITY, back[4]);
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(back[5]));
    }

    @Test
    void vectorHalfWideningMatchesScalarForEveryBitPattern() {
        short[] all = new short[65536];
        for (int i = 0; i < all.length; i++) {
            all[i] = (short) i;
        }
        MemorySegment seg = MemorySegment.ofArray(all);
        int lanes = BlockDot.F.length();
        for (int i = 0; i < all.length; i += lanes) {
            float[] f16 = HalfFloats.f16(seg, 2L * i).toArray();
            float[] bf16 = HalfFloats.bf16(seg, 2L * i).toArray();
            for (int k = 0; k < lanes; k++) {
                assertEquals(Float.floatToRawIntBits(FloatBits.f16ToFloat(all[i + k])), Float.floatToRawIntBits(f16[k]),
                        "f16 " + Integer.toHexString(i + k));
                assertEquals(Float.floatToRawIntBits(FloatBits.bf16ToFloat(all[i + k])), Float.floatToRawIntBits(bf16[k]),
                        "bf16 " + Integer.toHexString(i + k));
            }
        }
    }

    /** No importance, or, for a format that needs it, the same importance for every column. */
    private static float[] plainImportance(BlockFormat f, int n) {
        if (!f.needsImportance()) {
            return null;
        }
        float[] ones = new float[n];
        java.util.Arrays.fill(ones, 1f);
        return ones;
    }
}
