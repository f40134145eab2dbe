package dev.qforge.kernel.blocks;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A format's level grid must describe exactly what its dequantizer computes: every dequantized weight is a
 * grid value, writing back the levels read off a quantized row gives the same bytes, and any levels written
 * dequantize to scale·codebook[k] + offset bit for bit, with the scales untouched.
 */
class LevelGridTest {
    private static final int N = 512;

    private static float[] weights(long seed) {
        Random r = new Random(seed);
        float[] w = new float[N];
        for (int i = 0; i < N; i++) {
            w[i] = (float) (r.nextGaussian() * 0.02 + (i % 97 == 0 ? 0.1 : 0));
        }
        return w;
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q8_0", "Q4_0", "IQ4_NL", "IQ4_XS", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void levelsReadOffAQuantizedRowWriteBackTheSameBytes(String name) {
        BlockFormat f = BlockFormats.byName(name);
        LevelGrid g = f.levelGrid();
        assertNotNull(g, name + " offers a level grid");
        float[] w = weights(name.hashCode());
        byte[] bytes = new byte[(int) f.rowBytes(N)];
        MemorySegment row = MemorySegment.ofArray(bytes);
        f.quantize(w, 0, N, null, row, 0);
        float[] deq = new float[N];
        f.dequantize(row, 0, N, deq, 0);
        float[] scale = new float[N];
        float[] offset = new float[N];
        g.grid(row, 0, N, scale, offset);
        int[] levels = new int[N];
        float[] cb = g.codebook();
        for (int i = 0; i < N; i++) {
            int k = g.nearest(deq[i], scale[i], offset[i]);
            levels[i] = k;
            assertEquals(deq[i], scale[i] * cb[k] + offset[i], 0f, name + " weight " + i + " lies on its grid");
        }
        byte[] rewritten = bytes.clone();
        g.setLevels(MemorySegment.ofArray(rewritten), 0, N, levels, 0);
        float[] deq2 = new float[N];
        f.dequantize(MemorySegment.ofArray(rewritten), 0, N, deq2, 0);
        assertArrayEquals(deq, deq2, 0f, name + ": the same levels give the same weights");
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q8_0", "Q4_0", "IQ4_NL", "IQ4_XS", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void anyLevelsDequantizeToTheirGridValues(String name) {
        BlockFormat f = BlockFormats.byName(name);
        LevelGrid g = f.levelGrid();
        float[] w = weights(name.hashCode() + 1);
        MemorySegment row = MemorySegment.ofArray(new byte[(int) f.rowBytes(N)]);
        f.quantize(w, 0, N, null, row, 0);
        float[] scale = new float[N];
        float[] offset = new float[N];
        g.grid(row, 0, N, scale, offset);
        Random r = new Random(7);
        int[] levels = new int[N];
        for (int i = 0; i < N; i++) {
            levels[i] = r.nextInt(g.codebook().length);
        }
        g.setLevels(row, 0, N, levels, 0);
        float[] scale2 = new float[N];
        float[] offset2 = new float[N];
        g.grid(row, 0, N, scale2, offset2);
        assertArrayEquals(scale, scale2, 0f, name + ": scales untouched");
        assertArrayEquals(offset, offset2, 0f, name + ": offsets untouched");
        float[] deq = new float[N];
        f.dequantize(row, 0, N, deq, 0);
        for (int i = 0; i < N; i++) {
            assertEquals(scale[i] * g.codebook()[levels[i]] + offset[i], deq[i], 0f, name + " weight " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q4_0", "IQ4_XS", "Q3_K", "Q4_K", "Q6_K"})
    void nearestIsTheClosestGridValue(String name) {
        LevelGrid g = BlockFormats.byName(name).levelGrid();
        float[] cb = g.codebook();
        Random r = new Random(3);
        for (int t = 0; t < 2000; t++) {
            float scale = (float) r.nextGaussian() * 0.01f;
            float offset = (float) r.nextGaussian() * 0.01f;
            float w = (float) r.nextGaussian() * 0.1f;
            int k = g.nearest(w, scale, offset);
            float err = Math.abs(scale * cb[k] + offset - w);
            for (float c : cb) {
                assertTrue(err <= Math.abs(scale * c + offset - w) + 1e-7f, name + ": level " + k + " is nearest");
            }
        }
    }
}
