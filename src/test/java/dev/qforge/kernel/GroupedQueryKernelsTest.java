package dev.qforge.kernel;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class GroupedQueryKernelsTest {
    private static final int HD = 24;
    private static final int BASE = 3;
    private static final int B = GroupedQueryKernels.KEY_BLOCK;

    /** Values by position: values[BASE + j·VALUE_STRIDE + d] for spans up to MAX_SPAN, garbage between rows. */
    private static final int VALUE_STRIDE = HD + 5;
    private static final int MAX_SPAN = 67;

    /** Position j's key in dimension d, stored in blocks of B positions from kv[BASE]. */
    private static float key(float[] kv, int j, int d) {
        return kv[BASE + (j / B * HD + d) * B + j % B];
    }

    /**
     * A KV head's storage: keys in blocks of B positions ({@link #key}) or values by position; garbage elsewhere that
     * must not be read into results.
     */
    private static float[] kv(Random r) {
        int keyBlocks = (MAX_SPAN + B - 1) / B;
        float[] kv = new float[Math.max(BASE + keyBlocks * HD * B, BASE + MAX_SPAN * VALUE_STRIDE)];
        for (int i = 0; i < kv.length; i++) {
            kv[i] = (float) r.nextGaussian();
        }
        return kv;
    }

    @Test
    void scoresMatchTheDefinitionForEveryHeadCountAndSpan() {
        Random r = new Random(5);
        float[] kv = kv(r);
        float[] q = new float[4 * HD + 5];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) r.nextGaussian();
        }
        for (int heads = 1; heads <= 4; heads++) {
            for (int span : new int[] {1, 15, 16, 17, 40, 67}) {
                // rows of span + 3: the three scores after each row stay as they were
                int row = span + 3;
                float[] scores = new float[2 + heads * row];
                java.util.Arrays.fill(scores, -9f);
                GroupedQueryKernels.scores(q, 5, heads, HD, 0.25f, kv, BASE, span, scores, 2, row);
                for (int i = 0; i < scores.length; i++) {
                    int g = (i - 2) / row;
                    int j = (i - 2) % row;
                    if (i < 2 || j >= span) {
                        assertEquals(-9f, scores[i], "heads " + heads + " span " + span + ": score " + i + " written");
                        continue;
                    }
                    double expected = 0;
                    for (int d = 0; d < HD; d++) {
                        expected += (double) q[5 + g * HD + d] * key(kv, j, d);
                    }
                    assertEquals(0.25 * expected, scores[i], 1e-5, "heads " + heads + " span " + span + " g " + g + " j " + j);
                }
            }
        }
    }

    @Test
    void weightedValuesMatchTheDefinitionForEveryHeadCountAndSpan() {
        Random r = new Random(6);
        float[] kv = kv(r);
        for (int heads = 1; heads <= 4; heads++) {
            for (int span : new int[] {1, 15, 16, 17, 40, 67}) {
                // rows of probabilities span + 2 apart: the two after each row are not read
                int row = span + 2;
                float[] p = new float[1 + heads * row];
                for (int i = 0; i < p.length; i++) {
                    p[i] = (i - 1) % row < span ? r.nextFloat() : Float.NaN;
                }
                float[] out = new float[7 + heads * HD];
                GroupedQueryKernels.weightedValues(p, 1, row, heads, span, kv, BASE, VALUE_STRIDE, HD, out, 7);
                for (int g = 0; g < heads; g++) {
                    for (int d = 0; d < HD; d++) {
                        double expected = 0;
                        for (int j = 0; j < span; j++) {
                            expected += (double) p[1 + g * row + j] * kv[BASE + j * VALUE_STRIDE + d];
                        }
                        assertEquals(expected, out[7 + g * HD + d], 1e-4, "heads " + heads + " span " + span);
                    }
                }
            }
        }
    }

    /**
     * Head sizes across the kernel's chunks of dimensions (two vectors: 32 floats with 512-bit vectors) and their masked
     * tails; no float outside a head's output is written.
     */
    @Test
    void weightedValuesCoverEveryChunkOfTheHeadAndWriteNothingElse() {
        Random r = new Random(8);
        for (int hd : new int[] {8, 64, 80, 136}) {
            int stride = hd + 3;
            int span = 21;
            float[] values = new float[2 + span * stride];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) r.nextGaussian();
            }
            for (int heads = 1; heads <= 4; heads++) {
                float[] p = new float[heads * span];
                for (int i = 0; i < p.length; i++) {
                    p[i] = r.nextFloat();
                }
                float[] out = new float[5 + heads * hd + 40];
                java.util.Arrays.fill(out, -7f);
                GroupedQueryKernels.weightedValues(p, 0, span, heads, span, values, 2, stride, hd, out, 5);
                for (int i = 0; i < out.length; i++) {
                    if (i < 5 || i >= 5 + heads * hd) {
                        assertEquals(-7f, out[i], "hd " + hd + " heads " + heads + ": float " + i + " written");
                        continue;
                    }
                    int g = (i - 5) / hd;
                    int d = (i - 5) % hd;
                    double expected = 0;
                    for (int j = 0; j < span; j++) {
                        expected += (double) p[g * span + j] * values[2 + j * stride + d];
                    }
                    assertEquals(expected, out[i], 1e-4, "hd " + hd + " heads " + heads + " g " + g + " d " + d);
                }
            }
        }
    }

    /** A head's result does not depend on whether it was taken in a pass of four or alone (e.g. 7 heads per KV head). */
    @Test
    void aHeadGetsTheSameBitsInAPassOfFourAsAlone() {
        Random r = new Random(7);
        float[] kv = kv(r);
        float[] q = new float[4 * HD];
        for (int i = 0; i < q.length; i++) {
            q[i] = (float) r.nextGaussian();
        }
        int span = 37;
        float[] four = new float[4 * span];
        GroupedQueryKernels.scores(q, 0, 4, HD, 0.5f, kv, BASE, span, four, 0, span);
        float[] four2 = new float[4 * HD];
        GroupedQueryKernels.weightedValues(four, 0, span, 4, span, kv, BASE, VALUE_STRIDE, HD, four2, 0);
        for (int g = 0; g < 4; g++) {
            float[] one = new float[span];
            GroupedQueryKernels.scores(q, g * HD, 1, HD, 0.5f, kv, BASE, span, one, 0, span);
            assertArrayEquals(java.util.Arrays.copyOfRange(four, g * span, g * span + span), one);
            float[] one2 = new float[HD];
            GroupedQueryKernels.weightedValues(one, 0, span, 1, span, kv, BASE, VALUE_STRIDE, HD, one2, 0);
            assertArrayEquals(java.util.Arrays.copyOfRange(four2, g * HD, g * HD + HD), one2);
        }
    }
}
