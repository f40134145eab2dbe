package dev.qforge.kernel.blocks;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuantMathTest {
    @Test
    void nearestIntRoundsHalfToEven() {
        assertEquals(0, QuantMath.nearestInt(0.5f));
        assertEquals(2, QuantMath.nearestInt(1.5f));
        assertEquals(2, QuantMath.nearestInt(2.5f));
        assertEquals(-2, QuantMath.nearestInt(-2.5f));
        assertEquals(-1, QuantMath.nearestInt(-0.7f));
        assertEquals(7, QuantMath.nearestInt(7.49f));
        assertEquals(4194303, QuantMath.nearestInt(4194303f));
        assertEquals(-4194303, QuantMath.nearestInt(-4194303f));
    }

    @Test
    void qxQuantsOfAllZeroGroupAreZero() {
        float[] x = new float[16];
        byte[] levels = new byte[16];
        levels[3] = 9;
        assertEquals(0f, QuantMath.makeQxQuants(16, 8, x, 0, levels, 0, 1, null, 0));
        assertArrayEquals(new byte[16], levels);
    }

    @Test
    void qxQuantsAnchorTheLargestMagnitudeAtMinusNmax() {
        float[] x = {0.1f, -2f, 0.5f, 1f};
        byte[] levels = new byte[4];
        float d = QuantMath.makeQxQuants(4, 8, x, 0, levels, 0, 0, null, 0);
        assertEquals(0.25f, d);
        assertArrayEquals(new byte[]{8, 0, 10, 12}, levels);
    }

    @Test
    void qkx3QuantsFitAnAffineGrid() {
        float[] x = new float[32];
        for (int i = 0; i < 32; i++) {
            x[i] = -1f + i * (3f / 31);
        }
        byte[] levels = new byte[32];
        float[] mins = new float[1];
        float d = QuantMath.makeQkx3Quants(32, 31, x, 0, null, 0, levels, 0, mins, 0, null, -0.9f, 0.05f, 36, false);
        for (int i = 0; i < 32; i++) {
            assertEquals(x[i], d * levels[i] - mins[0], 1e-5f);
        }
        assertTrue(mins[0] > 0);
    }
}
