package dev.qforge.kernel;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RankUpdateTest {

    private static float[] random(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    /** Shapes that are not multiples of the tile, k beyond one panel, strided A both ways, an offset C window. */
    @Test
    void updateMatchesTheDefinitionOnEveryEdge() {
        Random r = new Random(3);
        int[][] shapes = {{1, 1, 1}, {5, 7, 3}, {6, 2 * RankUpdate.W, 16}, {13, 3 * RankUpdate.W + 5, 300},
                {64, 9 * RankUpdate.W + 1, 256}, {7, 17 * RankUpdate.W, 513}};
        for (int[] shape : shapes) {
            int rows = shape[0], width = shape[1], k = shape[2];
            int cs = width + 11, c0 = 4;
            for (boolean transposedA : new boolean[]{false, true}) {
                float[] c = random(r, 2 + rows * cs);
                float[] a = random(r, 3 + rows * k);
                float[] b = random(r, 1 + k * (c0 + width + 2));
                int bs = c0 + width + 2;
                int ars = transposedA ? 1 : k;
                int ais = transposedA ? rows : 1;
                float[] expected = c.clone();
                for (int i = 0; i < rows; i++) {
                    for (int j = c0; j < c0 + width; j++) {
                        double s = 0;
                        for (int t = 0; t < k; t++) {
                            s += (double) a[3 + i * ars + t * ais] * b[1 + t * bs + j];
                        }
                        expected[2 + i * cs + j] -= (float) s;
                    }
                }
                RankUpdate.update(c, 2, cs, a, 3, ars, ais, b, 1, bs, k, rows, c0, c0 + width, -1f);
                for (int i = 0; i < c.length; i++) {
                    assertEquals(expected[i], c[i], 1e-4 * Math.sqrt(k) + 1e-5 * Math.abs(expected[i]),
                            "rows " + rows + " width " + width + " k " + k + " transposed " + transposedA + " at " + i);
                }
            }
        }
    }

    @Test
    void upperGramIsTheSumOfOuterProductsOnAndAboveTheDiagonal() {
        Random r = new Random(5);
        for (int n : new int[]{1, 7, 2 * RankUpdate.W + 3, 9 * RankUpdate.W}) {
            for (int tokens : new int[]{1, 40, 300}) {
                float[] x = random(r, tokens * n);
                float[] h = random(r, n * n);
                float[] before = h.clone();
                RankUpdate.addUpperGram(h, n, x, tokens);
                for (int i = 0; i < n; i++) {
                    for (int j = i; j < n; j++) {
                        double s = before[i * n + j];
                        for (int t = 0; t < tokens; t++) {
                            s += (double) x[t * n + i] * x[t * n + j];
                        }
                        assertEquals(s, h[i * n + j], 1e-4 * tokens, "n " + n + " tokens " + tokens + " at " + i + "," + j);
                    }
                }
            }
        }
    }
}
