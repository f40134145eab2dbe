package dev.qforge.kernel.blocks;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IntGroupFormatTest {

    @Test
    void namesParseAndStayOutOfGguf() {
        assertEquals("INT4_G128", BlockFormats.anyByName("int4_g128", 4096).name());
        assertEquals(128, BlockFormats.anyByName("INT4_G128", 4096).blockSize());
        assertEquals(4096, BlockFormats.anyByName("INT8_CH_SYM", 4096).blockSize());
        assertEquals(3 + 64 * 3 / 8, BlockFormats.anyByName("INT3_G64", 4096).bytesPerBlock());
        assertEquals(-1, BlockFormats.anyByName("INT2_G32", 4096).ggmlType());
        assertNull(IntGroupFormat.parse("Q4_K", 4096));
        assertThrows(QforgeException.class, () -> BlockFormats.byName("INT4_G128"));
        QforgeException e = assertThrows(QforgeException.class, () -> BlockFormats.anyByName("INT5_G128", 4096));
        assertTrue(e.getMessage().contains("INT{2,3,4,8}"), e.getMessage());
        assertThrows(QforgeException.class, () -> BlockFormats.anyByName("INT4_G12", 4096), "not a multiple of 8");
        assertThrows(QforgeException.class, () -> BlockFormats.anyByName("INT4_G99999999999", 4096), "too large");
    }

    /** Every level written through the grid reads back as scale·(q − zero), for every width of the bit stream. */
    @Test
    void levelsRoundTripThroughTheBitStream() {
        Random r = new Random(1);
        for (int bits : new int[]{2, 3, 4, 8}) {
            for (boolean sym : new boolean[]{false, true}) {
                IntGroupFormat f = IntGroupFormat.of(bits, 32, sym);
                int n = 96;
                float[] w = new float[n];
                for (int i = 0; i < n; i++) {
                    w[i] = (float) r.nextGaussian();
                }
                MemorySegment row = MemorySegment.ofArray(new byte[(int) f.rowBytes(n)]);
                f.quantize(w, 0, n, null, row, 0);
                int[] levels = new int[n];
                for (int i = 0; i < n; i++) {
                    levels[i] = r.nextInt(1 << bits);
                }
                f.setLevels(row, 0, n, levels, 0);
                float[] scale = new float[n];
                float[] offset = new float[n];
                f.grid(row, 0, n, scale, offset);
                float[] back = new float[n];
                f.dequantize(row, 0, n, back, 0);
                for (int i = 0; i < n; i++) {
                    assertEquals(scale[i] * levels[i] + offset[i], back[i], 1e-6f * Math.abs(scale[i]) * (1 << bits), bits + " bits, weight " + i);
                }
                if (sym) {
                    assertEquals(-scale[0] * (1 << (bits - 1)), offset[0], 1e-7f, "symmetric groups fix the zero point at 2^(b−1)");
                }
            }
        }
    }

    /** Σ imp·(w − q)² with the range [min, max] (widened to 0) and no clipping: what the search starts from. */
    private static double minMaxError(float[] w, float[] imp, int bits) {
        float lo = 0;
        float hi = 0;
        for (float v : w) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        int max = (1 << bits) - 1;
        float scale = Float.float16ToFloat(Float.floatToFloat16((hi - lo) / max));
        int zero = Math.round(-lo / scale);
        double err = 0;
        for (int i = 0; i < w.length; i++) {
            int q = Math.clamp(Math.round(w[i] / scale) + zero, 0, max);
            double d = scale * (q - zero) - w[i];
            err += imp[i] * d * d;
        }
        return err;
    }

    @Test
    void clippingSearchBeatsTheFullRangeWhenAFewWeightsAreOutliers() {
        Random r = new Random(2);
        IntGroupFormat f = IntGroupFormat.of(3, 128, false);
        float[] w = new float[128];
        float[] imp = new float[128];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
            imp[i] = 0.5f + r.nextFloat();
        }
        w[5] = 9;
        imp[5] = 0.01f;
        MemorySegment row = MemorySegment.ofArray(new byte[(int) f.rowBytes(128)]);
        f.quantize(w, 0, 128, imp, row, 0);
        float[] q = new float[128];
        f.dequantize(row, 0, 128, q, 0);
        double err = 0;
        for (int i = 0; i < 128; i++) {
            err += imp[i] * (double) (q[i] - w[i]) * (q[i] - w[i]);
        }
        double full = minMaxError(w, imp, 3);
        assertTrue(err < 0.8 * full, "clipped " + err + " vs full range " + full);
        assertTrue(q[5] < 8, "the unimportant outlier is clipped: " + q[5]);
    }

    @Test
    void anAllZeroGroupStaysZero() {
        IntGroupFormat f = IntGroupFormat.of(4, 32, false);
        MemorySegment row = MemorySegment.ofArray(new byte[(int) f.rowBytes(32)]);
        f.quantize(new float[32], 0, 32, null, row, 0);
        float[] q = new float[32];
        f.dequantize(row, 0, 32, q, 0);
        for (float v : q) {
            assertEquals(0f, v);
        }
    }
}
