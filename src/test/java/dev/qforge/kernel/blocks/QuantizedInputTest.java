package dev.qforge.kernel.blocks;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Filling an input block range by block range, as the threads of one product do, gives what one call gives. */
class QuantizedInputTest {
    private static float[] gaussian(int n, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian() * (i % 97 == 0 ? 40 : 1);
        }
        return x;
    }

    private static void assertSame(QuantizedInput expected, QuantizedInput actual, int n) {
        assertEquals(expected.length(), actual.length());
        for (int i = 0; i < n; i++) {
            assertEquals(expected.levels()[i], actual.levels()[i], "level " + i);
        }
        for (int b = 0; b < n / QuantizedInput.BLOCK; b++) {
            assertEquals(expected.scale(b), actual.scale(b), "scale of block " + b);
            assertEquals(expected.sum(b), actual.sum(b), "sum of block " + b);
            assertEquals(expected.halfSum(b, 0), actual.halfSum(b, 0), "first half's sum of block " + b);
        }
    }

    @Test
    void blockRangesInAnyOrderMakeTheSameInput() {
        int n = 17 * QuantizedInput.BLOCK;
        float[] x = gaussian(n + 5, 1);
        QuantizedInput whole = new QuantizedInput().set(x, 5, n);
        // reused after a longer vector, filled in three uneven shares, last share first
        QuantizedInput parts = new QuantizedInput().set(gaussian(4 * n, 2), 0, 4 * n).resize(n);
        parts.setBlocks(x, 5, 11, 17);
        parts.setBlocks(x, 5, 0, 4);
        parts.setBlocks(x, 5, 4, 11);
        assertSame(whole, parts, n);
    }

    @Test
    void aLengthThatIsNotWholeBlocksIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> new QuantizedInput().resize(33));
        assertThrows(IllegalArgumentException.class, () -> new QuantizedInput().set(new float[40], 0, 40));
    }
}
