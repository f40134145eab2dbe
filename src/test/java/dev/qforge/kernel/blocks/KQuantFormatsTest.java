package dev.qforge.kernel.blocks;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The K-quant formats on random data, without llama.cpp's vectors: registry, error bounds, offsets, dots. */
class KQuantFormatsTest {
    private static final String[] NAMES = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"};

    @Test
    void registryKnowsEveryKQuantByNameAndType() {
        for (String name : NAMES) {
            GgmlType t = GgmlType.valueOf(name);
            BlockFormat f = BlockFormats.byName(name.toLowerCase());
            assertEquals(name, f.name());
            assertSame(f, BlockFormats.byGgmlType(t.id()));
            assertEquals(t.id(), f.ggmlType());
            assertEquals(256, f.blockSize());
            assertEquals(t.bytesPerBlock(), f.bytesPerBlock());
        }
        assertEquals(4.5, BlockFormats.byName("Q4_K").bitsPerWeight());
        assertEquals(2.625, BlockFormats.byName("Q2_K").bitsPerWeight());
    }

    /** Gaussian rows at a few scales; the relative error must sit where the bits per weight put it. */
    @ParameterizedTest
    @ValueSource(strings = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"})
    void roundTripErrorFitsTheBitsPerWeight(String name) {
        BlockFormat f = BlockFormats.byName(name);
        int n = 1024;
        Random rnd = new Random(name.hashCode());
        float[] src = new float[n + 5];
        for (int i = 0; i < src.length; i++) {
            src[i] = (float) (rnd.nextGaussian() * Math.pow(10, i / 256 - 2));
        }
        float[] imp = new float[n];
        for (int i = 0; i < n; i++) {
            imp[i] = (float) Math.exp(rnd.nextGaussian());
        }
        // rel. MSE bounds about 2x what llama.cpp reaches on its test input (summary.txt)
        double bound = switch (name) {
            case "Q2_K" -> 0.25;
            case "Q3_K" -> 0.065;
            case "Q4_K" -> 0.02;
            case "Q5_K" -> 0.005;
            case "Q6_K" -> 0.002;
            default -> 5e-4; // Q8_K: one scale per 256
        };
        for (float[] importance : new float[][] {null, imp}) {
            MemorySegment seg = Arena.ofAuto().allocate(f.rowBytes(n) + 3).asSlice(3); // unaligned on purpose
            f.quantize(src, 5, n, importance, seg, 0);
            float[] back = new float[n + 2];
            f.dequantize(seg, 0, n, back, 2);
            for (int blk = 0; blk < n / 256; blk++) {
                double err = 0;
                double ref = 0;
                for (int i = blk * 256; i < blk * 256 + 256; i++) {
                    double e = back[2 + i] - src[5 + i];
                    err += e * e;
                    ref += (double) src[5 + i] * src[5 + i];
                }
                assertTrue(err / ref < bound, name + " block " + blk + " rel. MSE " + err / ref);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"})
    void dotAgreesWithDequantizedWeights(String name) {
        BlockFormat f = BlockFormats.byName(name);
        int n = 768;
        Random rnd = new Random(11);
        float[] w = new float[n];
        float[] x = new float[n + 7];
        for (int i = 0; i < n; i++) {
            w[i] = (float) rnd.nextGaussian() + (i % 97 == 0 ? 6 : 0);
        }
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        MemorySegment seg = Arena.ofAuto().allocate(f.rowBytes(n) * 2 + 1).asSlice(1);
        f.quantize(w, 0, n, null, seg, f.rowBytes(n));
        float[] deq = new float[n];
        f.dequantize(seg, f.rowBytes(n), n, deq, 0);
        double ref = 0;
        double mag = 0;
        for (int i = 0; i < n; i++) {
            ref += (double) deq[i] * x[7 + i];
            mag += Math.abs((double) deq[i] * x[7 + i]);
        }
        assertEquals(ref, f.dot(seg, f.rowBytes(n), n, x, 7), 1e-5 * mag, name);
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"})
    void zeroBlockStaysZero(String name) {
        BlockFormat f = BlockFormats.byName(name);
        float[] zeros = new float[256];
        MemorySegment seg = Arena.ofAuto().allocate(f.bytesPerBlock());
        seg.fill((byte) 0x5A);
        f.quantize(zeros, 0, 256, null, seg, 0);
        float[] back = new float[256];
        f.dequantize(seg, 0, 256, back, 0);
        for (float v : back) {
            assertEquals(0f, v, 0f); // Q6_K gives −0 (0·(0 − 32)), as llama.cpp does
        }
        assertEquals(0f, f.dot(seg, 0, 256, new float[256], 0));
    }

    @Test
    void q8KKeepsDAsFloatAndSumsOfSixteen() {
        BlockFormat f = BlockFormats.byName("Q8_K");
        Random rnd = new Random(3);
        float[] x = new float[256];
        for (int i = 0; i < 256; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        x[77] = -9f; // the largest magnitude always maps to −127, and d = 1/(−127/max)
        MemorySegment seg = Arena.ofAuto().allocate(f.bytesPerBlock());
        f.quantize(x, 0, 256, null, seg, 0);
        float d = seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
        assertEquals(1 / (-127f / -9f), d);
        assertEquals(-127, seg.get(ValueLayout.JAVA_BYTE, 4 + 77));
        assertTrue(d > 0); // d = −max/127: positive for a negative max
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++) {
                sum += seg.get(ValueLayout.JAVA_BYTE, 4 + 16 * g + i);
            }
            short bsum = seg.get(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 260 + 2L * g);
            assertEquals(sum, bsum);
        }
    }
}
