package dev.qforge.kernel.blocks;

import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MXFP4FormatTest {
    private final BlockFormat f = BlockFormats.byName("MXFP4");

    /** A block whose values are all codes times one power of two comes back exactly, with that power as its scale. */
    @Test
    void representableBlocksRoundTripExactly() {
        float[] magnitudes = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6};
        Random r = new Random(4);
        for (int m = -20; m <= 20; m += 5) {
            float[] w = new float[32];
            for (int j = 0; j < 32; j++) {
                w[j] = Math.scalb(magnitudes[r.nextInt(8)] * (r.nextBoolean() ? 1 : -1), m);
            }
            w[7] = Math.scalb(6f, m); // the top code is used, so the scale is 2^m
            MemorySegment block = MemorySegment.ofArray(new byte[17]);
            f.quantize(w, 0, 32, null, block, 0);
            assertEquals(127 + m, BlockBytes.u8(block, 0), "E8M0 exponent for 2^" + m);
            float[] back = new float[32];
            f.dequantize(block, 0, 32, back, 0);
            for (int j = 0; j < 32; j++) {
                assertEquals(w[j], back[j], 0f, "weight " + j + " at 2^" + m);
            }
        }
    }

    /** Every weight takes its nearest code: no other code of the block's scale is closer. */
    @Test
    void weightsTakeTheirNearestCode() {
        Random r = new Random(5);
        float[] w = new float[64];
        for (int j = 0; j < w.length; j++) {
            w[j] = (float) r.nextGaussian();
        }
        MemorySegment row = MemorySegment.ofArray(new byte[34]);
        f.quantize(w, 0, 64, null, row, 0);
        float[] back = new float[64];
        f.dequantize(row, 0, 64, back, 0);
        float[] scale = new float[64];
        float[] offset = new float[64];
        f.levelGrid().grid(row, 0, 64, scale, offset);
        for (int j = 0; j < 64; j++) {
            for (float code : f.levelGrid().codebook()) {
                assertTrue(Math.abs(back[j] - w[j]) <= Math.abs(code * scale[j] - w[j]), "weight " + j);
            }
        }
    }
}
