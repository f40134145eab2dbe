package dev.qforge.kernel.blocks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decode layouts against the dequantized rows: for every format of the table that has one, packing
 * then dotting with int8 activations gives Σ dequantized weight × dequantized activation, also for a
 * last group with fewer than 32 rows and for the extreme levels where the integer lane sums are largest.
 */
class InterleavedLayoutTest {
    static List<BlockFormat> formats() {
        return BlockFormats.all().stream().filter(f -> f.interleavedLayout() != null).toList();
    }

    @Test
    void theFormatsThatDecodeMostHaveALayout() {
        for (String name : List.of("Q4_0", "Q4_K", "Q6_K", "Q8_0", "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S",
                "IQ3_XXS", "IQ3_S", "IQ4_NL", "IQ4_XS", "MXFP4", "TQ1_0", "TQ2_0", "Q2_K", "Q3_K", "Q5_K", "Q4_1", "Q5_0",
                "Q5_1")) {
            assertFalse(BlockFormats.byName(name).interleavedLayout() == null, name);
        }
    }

    /** Rows of Gaussian weights with outliers, then extreme rows: constant of either sign, and zero. */
    private static float[][] rows(Random rnd, int count, int cols) {
        float[][] w = new float[count][cols];
        for (int r = 0; r < count; r++) {
            for (int c = 0; c < cols; c++) {
                w[r][c] = switch (r % 8) {
                    case 5 -> -0.5f;
                    case 6 -> 0.25f;
                    case 7 -> 0f;
                    default -> (float) rnd.nextGaussian() * 0.02f * (r % 4 + 1) * (rnd.nextInt(64) == 0 ? 8 : 1);
                };
            }
        }
        return w;
    }

    /** Activations with one all-zero block and one block of equal values (every level ±127). */
    private static float[] activations(Random rnd, int cols) {
        float[] x = new float[cols];
        for (int c = 0; c < cols; c++) {
            x[c] = (float) rnd.nextGaussian();
        }
        for (int c = 32; c < 64; c++) {
            x[c] = 0;
        }
        for (int c = 64; c < 96; c++) {
            x[c] = 3f;
        }
        for (int c = 96; c < 128; c++) {
            x[c] = -3f;
        }
        return x;
    }

    @ParameterizedTest
    @MethodSource("formats")
    void packedDotIsTheDotOfDequantizedWeightsAndActivations(BlockFormat f) {
        InterleavedLayout layout = f.interleavedLayout();
        Random rnd = new Random(3);
        int cols = 768;
        for (int rowCount : new int[] {32, 45, 7, 100, 160}) {
            float[][] w = rows(rnd, rowCount, cols);
            long rowBytes = f.rowBytes(cols);
            MemorySegment src = MemorySegment.ofArray(new byte[(int) (rowBytes * rowCount + 3)]).asSlice(3);
            float[][] deq = new float[rowCount][cols];
            float[] importance = new float[cols];
            java.util.Arrays.fill(importance, 1f);
            for (int r = 0; r < rowCount; r++) {
                f.quantize(w[r], 0, cols, f.needsImportance() ? importance : null, src, r * rowBytes);
                f.dequantize(src, r * rowBytes, cols, deq[r], 0);
            }
            float[] xf = activations(rnd, cols);
            QuantizedInput x = new QuantizedInput().set(xf, 0, cols);
            int groups = (rowCount + 31) / 32;
            long gb = layout.groupStride(cols);
            MemorySegment packed = Arena.ofAuto().allocate(gb * groups, 64);
            float[] out = new float[rowCount];
            for (int g = 0; g < groups; g++) {
                int n = Math.min(32, rowCount - 32 * g);
                layout.pack(src, 32L * g * rowBytes, rowBytes, n, cols, packed, g * gb);
                layout.dot(packed, g * gb, cols, x, out, 32 * g, n);
            }
            // all groups at once, and from the second group on (an odd start): the same floats, bit for bit, so a
            // result does not depend on how groups are handed to threads, nor on whether a layout's kernel took four
            // groups at once (the tests run with -Dqforge.decode.groups=4; 100 and 160 rows make such steps)
            float[] together = new float[rowCount];
            layout.dotGroups(packed, 0, gb, groups, cols, x, together, 0, rowCount);
            assertEquals(java.util.Arrays.toString(out), java.util.Arrays.toString(together), f.name() + " all groups");
            if (groups > 1) {
                float[] tail = new float[rowCount];
                layout.dotGroups(packed, gb, gb, groups - 1, cols, x, tail, 32, rowCount - 32);
                for (int r = 32; r < rowCount; r++) {
                    assertEquals(out[r], tail[r], f.name() + " from group 1, row " + r);
                }
            }
            for (int r = 0; r < rowCount; r++) {
                double expected = 0;
                double magnitude = 0;
                for (int c = 0; c < cols; c++) {
                    double a = (double) x.levels()[c] * x.scale(c / 32);
                    expected += deq[r][c] * a;
                    magnitude += Math.abs(deq[r][c] * a);
                }
                assertEquals(expected, out[r], 1e-5 * magnitude + 1e-30, f.name() + " rows " + rowCount + " row " + r);
            }
        }
    }

    @Test
    void activationLevelsAreGgmlQ8_0Levels() {
        Random rnd = new Random(5);
        int n = 256;
        float[] x = activations(rnd, n);
        x[200] = 1e-3f;
        QuantizedInput q = new QuantizedInput().set(x, 0, n);
        BlockFormat q8 = BlockFormats.byName("Q8_0");
        MemorySegment ref = MemorySegment.ofArray(new byte[(int) q8.rowBytes(n)]);
        q8.quantize(x, 0, n, null, ref, 0);
        for (int i = 0; i < n; i++) {
            int level = ref.get(java.lang.foreign.ValueLayout.JAVA_BYTE, (i / 32) * 34L + 2 + i % 32);
            assertEquals(level, q.levels()[i], "level " + i);
        }
        for (int b = 0; b < n / 32; b++) {
            int sum = 0;
            for (int i = 0; i < 32; i++) {
                sum += q.levels()[32 * b + i];
            }
            assertEquals(sum, q.sum(b), "block sum " + b);
            // ggml stores this scale as f16; it is the same before that rounding
            assertEquals(BlockBytes.f16(ref, b * 34L), q.scale(b), Math.abs(q.scale(b)) * 1e-3);
        }
    }

    /** The vector quantization against the scalar definition (roundf of x/d, clamped), on many kinds of blocks. */
    @Test
    void activationLevelsAreRoundedAsRoundfOnEveryKindOfBlock() {
        Random rnd = new Random(17);
        int n = 32 * 4000;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            int block = i / 32;
            double scale = Math.pow(10, block % 40 - 30); // 1e-30 .. 1e9
            x[i] = switch (block % 7) {
                case 0 -> (float) (rnd.nextGaussian() * scale);
                case 1 -> (float) ((rnd.nextInt(255) - 127) * 0.5); // many exact halves once scaled by 127/amax
                case 2 -> i % 32 == 0 ? 127f : (rnd.nextInt(255) - 127) + 0.5f; // d = 1: ties at every level
                case 3 -> 0f;
                case 4 -> i % 32 == 5 ? Float.MIN_VALUE : 0f; // 1/d infinite
                case 5 -> Math.nextDown(0.5f) * (rnd.nextBoolean() ? 1 : -1) + (i % 32 == 0 ? 127f : 0f);
                default -> (float) rnd.nextGaussian();
            };
        }
        QuantizedInput q = new QuantizedInput().set(x, 0, n);
        for (int b = 0; b < n / 32; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) {
                amax = Math.max(amax, Math.abs(x[32 * b + i]));
            }
            float d = amax / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            int sum = 0;
            for (int i = 0; i < 32; i++) {
                float v = x[32 * b + i] * id;
                int expected = Math.max(-127, Math.min(127, v < 0 ? -Math.round(-v) : Math.round(v)));
                assertEquals(expected, q.levels()[32 * b + i], "block " + b + " value " + x[32 * b + i]);
                sum += expected;
            }
            assertEquals(d, q.scale(b), "scale of block " + b);
            assertEquals(sum, q.sum(b), "sum of block " + b);
        }
    }

    @Test
    void activationTiesRoundAwayFromZeroAndTinyBlocksStayInRange() {
        float[] x = new float[64];
        x[0] = 127f; // amax 127: d = 1, so levels are x rounded
        x[1] = 2.5f;
        x[2] = -2.5f;
        x[3] = 126.5f;
        x[4] = 0.49999997f;
        x[5] = -1.5f;
        x[32] = 1e-38f; // max|x| of the second block so small that 1/d is infinite
        x[33] = -3e-39f;
        QuantizedInput q = new QuantizedInput().set(x, 0, 64);
        short[] l = q.levels();
        assertEquals(127, l[0]);
        assertEquals(3, l[1]);
        assertEquals(-3, l[2]);
        assertEquals(127, l[3]);
        assertEquals(0, l[4]);
        assertEquals(-2, l[5]);
        for (int i = 32; i < 64; i++) {
            assertTrue(l[i] >= -127 && l[i] <= 127, "level " + i + " = " + l[i]);
        }
    }
}
