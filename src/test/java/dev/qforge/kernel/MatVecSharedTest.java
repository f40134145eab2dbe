package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** One job for the matrices of one input gives each matrix exactly what its own product gives. */
class MatVecSharedTest {
    private static final int COLS = 512;

    private static WeightMatrix matrix(String format, int rows, Random rnd) {
        BlockFormat f = BlockFormats.byName(format);
        return GaussianMatrices.quantized(f, rows, COLS, rnd, Arena.ofAuto().allocate(rows * f.rowBytes(COLS), 64));
    }

    private static void assertSameAsOneByOne(WeightMatrix... ws) {
        Random rnd = new Random(ws.length);
        float[] x = new float[COLS];
        for (int i = 0; i < COLS; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[][] shared = new float[ws.length][];
        for (int i = 0; i < ws.length; i++) {
            shared[i] = new float[ws[i].rows()];
        }
        MatMul.matvecShared(ws, x, shared);
        for (int i = 0; i < ws.length; i++) {
            float[] alone = new float[ws[i].rows()];
            MatMul.matmul(ws[i], x, 1, alone);
            assertArrayEquals(alone, shared[i], ws[i].name() + " (matrix " + i + " of " + ws.length + ")");
        }
    }

    @Test
    void decodeLayoutsOfOneFormatLikeAQkvProjection() {
        Random rnd = new Random(1);
        // uneven sizes, rows not a multiple of 32: the cuts between matrices fall inside runs
        assertSameAsOneByOne(matrix("Q4_0", 320, rnd), matrix("Q4_0", 80, rnd), matrix("Q4_0", 80, rnd));
        assertSameAsOneByOne(matrix("Q8_0", 1024, rnd), matrix("Q8_0", 1024, rnd));
    }

    @Test
    void mixedLayoutsEachGetTheirOwnQuantizedInput() {
        Random rnd = new Random(2);
        // as in a Q4_K_M file: q and k in Q4_K, v in Q6_K; IQ4_XS builds pair tables in prepare
        assertSameAsOneByOne(matrix("Q4_K", 256, rnd), matrix("Q4_K", 64, rnd), matrix("Q6_K", 64, rnd));
        assertSameAsOneByOne(matrix("IQ4_XS", 96, rnd), matrix("Q6_K", 33, rnd), matrix("IQ4_XS", 200, rnd));
    }

    @Test
    void layoutsThatTakeSeveralGroupsPerStep() {
        Random rnd = new Random(3);
        assertSameAsOneByOne(matrix("Q2_K", 300, rnd), matrix("TQ2_0", 130, rnd), matrix("Q2_K", 31, rnd));
    }

    @Test
    void floatMatricesAndMixturesThatFallBackToOneByOne() {
        Random rnd = new Random(4);
        assertSameAsOneByOne(matrix("F32", 100, rnd), matrix("F32", 36, rnd), matrix("F32", 36, rnd));
        assertSameAsOneByOne(matrix("BF16", 200, rnd), matrix("BF16", 17, rnd));
        assertSameAsOneByOne(matrix("F16", 64, rnd), matrix("F16", 64, rnd));
        assertSameAsOneByOne(matrix("BF16", 64, rnd), matrix("Q4_0", 64, rnd), matrix("F32", 64, rnd));
        assertSameAsOneByOne(matrix("Q4_0", 64, rnd));
    }

    @Test
    void theSameFloatsOnOneTwoAndThreeThreads() {
        // the threads quantize x in shares (a third of 16 blocks is not whole) and take the pieces in any order; a new x
        // each time, so that a share left unquantized would leave the previous product's levels behind
        Random rnd = new Random(6);
        WeightMatrix[] ws = {matrix("Q4_0", 640, rnd), matrix("Q4_0", 96, rnd), matrix("Q6_K", 96, rnd), matrix("TQ2_0", 130, rnd)};
        int before = Parallel.threads();
        try {
            for (int rep = 0; rep < 12; rep++) {
                float[] x = new float[COLS];
                for (int i = 0; i < COLS; i++) {
                    x[i] = (float) rnd.nextGaussian();
                }
                // one thread last: it quantizes all of x itself, so what the others left stale shows up against it
                float[][][] outs = new float[4][][];
                for (int threads = 3; threads >= 1; threads--) {
                    Parallel.setThreads(threads);
                    outs[threads] = new float[ws.length][];
                    for (int i = 0; i < ws.length; i++) {
                        outs[threads][i] = new float[ws[i].rows()];
                    }
                    MatMul.matvecShared(ws, x, outs[threads]);
                }
                for (int threads = 2; threads <= 3; threads++) {
                    for (int i = 0; i < ws.length; i++) {
                        assertArrayEquals(outs[1][i], outs[threads][i], "matrix " + i + " on " + threads + " threads, x " + rep);
                    }
                }
            }
        } finally {
            Parallel.setThreads(before);
        }
    }

    @Test
    void tooShortAnOutputIsRefused() {
        Random rnd = new Random(5);
        WeightMatrix a = matrix("Q4_0", 64, rnd);
        WeightMatrix b = matrix("Q4_0", 64, rnd);
        assertThrows(IllegalArgumentException.class,
                () -> MatMul.matvecShared(new WeightMatrix[] {a, b}, new float[COLS], new float[][] {new float[64], new float[63]}));
        assertThrows(IllegalArgumentException.class,
                () -> MatMul.matvecShared(new WeightMatrix[] {a, b}, new float[COLS], new float[][] {new float[64]}));
    }
}
