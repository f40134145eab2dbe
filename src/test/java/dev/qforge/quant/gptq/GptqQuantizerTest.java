package dev.qforge.quant.gptq;

import dev.qforge.QforgeException;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * GPTQ must keep a layer's output on its calibration inputs closer than rounding to nearest with the same
 * importance does, on inputs whose columns are correlated and unequal in scale as real activations are.
 */
class GptqQuantizerTest {
    private static final int ROWS = 48;
    private static final int COLS = 512;
    private static final int TOKENS = 2048;

    /** Inputs with a few shared latent directions (correlated columns) and a few loud columns. */
    private static float[] inputs(Random r) {
        int latent = 24;
        float[] mix = new float[latent * COLS];
        for (int i = 0; i < mix.length; i++) {
            mix[i] = (float) r.nextGaussian();
        }
        float[] x = new float[TOKENS * COLS];
        float[] z = new float[latent];
        for (int t = 0; t < TOKENS; t++) {
            for (int l = 0; l < latent; l++) {
                z[l] = (float) r.nextGaussian();
            }
            for (int c = 0; c < COLS; c++) {
                float v = 0.3f * (float) r.nextGaussian();
                for (int l = 0; l < latent; l++) {
                    v += z[l] * mix[l * COLS + c] * 0.2f;
                }
                x[t * COLS + c] = v * (c % 61 == 0 ? 8 : 1);
            }
        }
        return x;
    }

    private static float[] weights(Random r) {
        float[] w = new float[ROWS * COLS];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.05);
        }
        return w;
    }

    /** Σ over tokens and rows of (x·w − x·q)². */
    private static double outputError(float[] x, float[] w, float[] q) {
        double err = 0;
        for (int t = 0; t < TOKENS; t++) {
            for (int r = 0; r < ROWS; r++) {
                double a = 0;
                for (int c = 0; c < COLS; c++) {
                    a += (double) x[t * COLS + c] * (w[r * COLS + c] - q[r * COLS + c]);
                }
                err += a * a;
            }
        }
        return err;
    }

    private static float[] dequantize(BlockFormat f, byte[] bytes) {
        float[] q = new float[ROWS * COLS];
        for (int r = 0; r < ROWS; r++) {
            f.dequantize(MemorySegment.ofArray(bytes), r * f.rowBytes(COLS), COLS, q, r * COLS);
        }
        return q;
    }

    @ParameterizedTest
    @ValueSource(strings = {"Q4_0", "Q8_0", "IQ4_NL", "IQ4_XS", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K",
            "TQ1_0", "TQ2_0", "MXFP4", "INT4_G128", "INT3_G64_SYM", "INT2_G32", "INT8_CH", "INT4_CH_SYM"})
    void gptqKeepsTheOutputCloserThanRoundToNearest(String name) {
        BlockFormat f = BlockFormats.anyByName(name, COLS);
        Random r = new Random(11);
        float[] x = inputs(r);
        float[] w = weights(r);
        Hessian h = new Hessian(COLS);
        for (int t0 = 0; t0 < TOKENS; t0 += 512) {
            float[] part = new float[512 * COLS];
            System.arraycopy(x, t0 * COLS, part, 0, part.length);
            h.add(part, 512);
        }
        float[] importance = h.meanSquares();
        byte[] rtn = new byte[(int) (ROWS * f.rowBytes(COLS))];
        for (int row = 0; row < ROWS; row++) {
            f.quantize(w, row * COLS, COLS, importance, MemorySegment.ofArray(rtn), row * f.rowBytes(COLS));
        }
        byte[] gptq = new byte[rtn.length];
        List<String> warnings = new ArrayList<>();
        GptqQuantizer.Settings leftToRight = new GptqQuantizer.Settings(0.01, 6, false);
        GptqQuantizer.quantize("test", w.clone(), ROWS, COLS, h, f, MemorySegment.ofArray(gptq), leftToRight, warnings::add);
        double eRtn = outputError(x, w, dequantize(f, rtn));
        double eGptq = outputError(x, w, dequantize(f, gptq));
        assertTrue(warnings.isEmpty(), warnings.toString());
        assertTrue(eGptq < 0.8 * eRtn, name + ": GPTQ output error " + eGptq + " vs round-to-nearest " + eRtn);
        // act-order: the same, with the columns swept by decreasing energy and all block scales chosen first
        Hessian h2 = new Hessian(COLS);
        h2.add(x, TOKENS);
        byte[] ordered = new byte[rtn.length];
        GptqQuantizer.quantize("test", w.clone(), ROWS, COLS, h2, f, MemorySegment.ofArray(ordered),
                new GptqQuantizer.Settings(0.01, 0, true), warnings::add);
        double eOrdered = outputError(x, w, dequantize(f, ordered));
        assertTrue(eOrdered < 0.8 * eRtn, name + ": act-order GPTQ output error " + eOrdered + " vs round-to-nearest " + eRtn);
        QforgeException mixed = assertThrows(QforgeException.class, () -> GptqQuantizer.quantize("blk.0.attn_k.weight",
                w.clone(), ROWS, COLS, h2, f, MemorySegment.ofArray(new byte[rtn.length]), leftToRight, s -> { }));
        assertTrue(mixed.getMessage().contains("same GPTQ settings"), mixed.getMessage());
        System.out.printf("%s: output error RTN %.4g, GPTQ %.4g, act-order GPTQ %.4g%n", name, eRtn, eGptq, eOrdered);
    }

    /**
     * The lattice formats round a whole block of 256 with their own codebook search; GPTQ's feedback between blocks
     * must still bring the output closer than the same search on the weights as they are. Asked for act-order, they
     * still sweep left to right (which is where their gain is), also on a Hessian an act-order format factored
     * first (q/k/v sharing an input), and the act-order format keeps its own order there.
     */
    @ParameterizedTest
    @ValueSource(strings = {"IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ3_XXS", "IQ3_S"})
    void gptqFeedsTheErrorsOfLatticeBlocksForward(String name) {
        BlockFormat f = BlockFormats.byName(name);
        Random r = new Random(11);
        float[] x = inputs(r);
        float[] w = weights(r);
        Hessian h = new Hessian(COLS);
        h.add(x, TOKENS);
        float[] importance = h.meanSquares();
        byte[] rtn = new byte[(int) (ROWS * f.rowBytes(COLS))];
        for (int row = 0; row < ROWS; row++) {
            f.quantize(w, row * COLS, COLS, importance, MemorySegment.ofArray(rtn), row * f.rowBytes(COLS));
        }
        byte[] gptq = new byte[rtn.length];
        List<String> warnings = new ArrayList<>();
        GptqQuantizer.quantize("test", w.clone(), ROWS, COLS, h, f, MemorySegment.ofArray(gptq),
                new GptqQuantizer.Settings(0.01, 6, false), warnings::add);
        // on a Hessian it shares with an act-order K-quant (q and v of llama.cpp's mixes): the lattice first still
        // goes left to right, and the K-quant after it still gets its act-order factor
        BlockFormat q4k = BlockFormats.byName("Q4_K");
        GptqQuantizer.Settings actOrder = new GptqQuantizer.Settings(0.01, 6, true);
        Hessian alone = new Hessian(COLS);
        alone.add(x, TOKENS);
        byte[] kquantAlone = new byte[(int) (ROWS * q4k.rowBytes(COLS))];
        GptqQuantizer.quantize("test", w.clone(), ROWS, COLS, alone, q4k, MemorySegment.ofArray(kquantAlone), actOrder,
                warnings::add);
        Hessian shared = new Hessian(COLS);
        shared.add(x, TOKENS);
        byte[] latticeFirst = new byte[rtn.length];
        GptqQuantizer.quantize("test", w.clone(), ROWS, COLS, shared, f, MemorySegment.ofArray(latticeFirst), actOrder,
                warnings::add);
        byte[] kquantSecond = new byte[kquantAlone.length];
        GptqQuantizer.quantize("test", w.clone(), ROWS, COLS, shared, q4k, MemorySegment.ofArray(kquantSecond), actOrder,
                warnings::add);
        assertArrayEquals(gptq, latticeFirst, name + ": left to right, also asked for act-order");
        assertArrayEquals(kquantAlone, kquantSecond, name + ": the K-quant after a lattice keeps its act-order factor");
        // after an act-order K-quant on its input, a lattice takes that factor: blocks chosen at first touch
        byte[] latticeSecond = new byte[rtn.length];
        GptqQuantizer.quantize("test", w.clone(), ROWS, COLS, alone, f, MemorySegment.ofArray(latticeSecond), actOrder,
                warnings::add);
        double eSecond = outputError(x, w, dequantize(f, latticeSecond));
        double eRtn = outputError(x, w, dequantize(f, rtn));
        double eGptq = outputError(x, w, dequantize(f, gptq));
        System.out.printf("%s: output error with the format's search alone %.4g, with GPTQ's feedback %.4g (%.2f)%n",
                name, eRtn, eGptq, eGptq / eRtn);
        assertTrue(warnings.isEmpty(), warnings.toString());
        assertTrue(eGptq < 0.9 * eRtn, name + ": GPTQ output error " + eGptq + " vs the search alone " + eRtn);
        assertTrue(eSecond < 1.05 * eRtn, name + ": a lattice on an act-order factor " + eSecond + " vs the search alone " + eRtn);
    }

    /** Σ x xᵀ of one all-ones input, made indefinite: eigenvalue −1 along (1, −1, 0, …). */
    private static Hessian indefiniteHessian(int cols) {
        Hessian h = new Hessian(cols);
        float[] x = new float[cols];
        java.util.Arrays.fill(x, 1f);
        h.add(x, 1);
        h.sum()[1] = 2;
        h.sum()[cols] = 2;
        return h;
    }

    @Test
    void anIndefiniteHessianRaisesTheDampingWithAWarningOrFailsInOneLine() {
        int cols = 32;
        float[] w = new float[2 * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (i % 7 - 3) * 0.01f;
        }
        Hessian h = indefiniteHessian(cols);
        List<String> warnings = new ArrayList<>();
        BlockFormat f = BlockFormats.byName("Q8_0");
        GptqQuantizer.Result r = GptqQuantizer.quantize("blk.0.attn_q.weight", w.clone(), 2, cols, h, f,
                MemorySegment.ofArray(new byte[(int) (2 * f.rowBytes(cols))]), GptqQuantizer.Settings.DEFAULT, warnings::add);
        assertFalse(warnings.isEmpty(), "the damping was raised");
        assertTrue(warnings.getFirst().startsWith("blk.0.attn_q.weight: Hessian"), warnings.getFirst());
        assertTrue(r.dampFraction() > 0.01, "used " + r.dampFraction());

        Hessian g = indefiniteHessian(cols);
        dev.qforge.QforgeException e = org.junit.jupiter.api.Assertions.assertThrows(dev.qforge.QforgeException.class,
                () -> GptqQuantizer.quantize("blk.0.attn_q.weight", w.clone(), 2, cols, g, f,
                        MemorySegment.ofArray(new byte[(int) (2 * f.rowBytes(cols))]), new GptqQuantizer.Settings(0.01, 0, true), s -> { }));
        assertTrue(e.getMessage().startsWith("blk.0.attn_q.weight: the Hessian stays singular"), e.getMessage());
    }

    @Test
    void aWideIndefiniteHessianIsRetriedFromItsCopyOnDisk() {
        int cols = 4097; // above 4096 the retry copy lives in a temporary file
        Hessian h = indefiniteHessian(cols);
        List<String> warnings = new ArrayList<>();
        Hessian.Factor f = h.factor(0.01, 6, false, "wide", warnings::add);
        assertFalse(warnings.isEmpty(), "the damping was raised");
        assertTrue(f.dampFraction() > 0.01);
        assertEquals(cols * cols, f.u().length);
        assertTrue(Float.isFinite(f.u()[0]) && f.u()[0] > 0);
    }

    @Test
    void actOrderFactorsTheHessianInDecreasingDiagonalOrder() {
        int n = 160;
        Random r = new Random(5);
        float[] x = new float[300 * n];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * (1 + (i % n) % 7));
        }
        Hessian h = new Hessian(n);
        h.add(x, 300);
        float[] a = h.sum().clone();
        Hessian.Factor f = h.factor(0.01, 0, true, "test", s -> { });
        int[] order = f.order();
        for (int p = 1; p < n; p++) {
            assertTrue(a[order[p - 1] * n + order[p - 1]] >= a[order[p] * n + order[p]], "decreasing diagonal at " + p);
        }
        // (P·H·Pᵀ + λI)·UᵀU must be I
        float[] u = f.u();
        double worst = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) {
                    double hp = a[order[i] * n + order[k]] + (i == k ? f.lambda() : 0);
                    double p = 0;
                    for (int l = 0; l <= Math.min(k, j); l++) {
                        p += (double) u[l * n + k] * u[l * n + j];
                    }
                    s += hp * p;
                }
                worst = Math.max(worst, Math.abs(s - (i == j ? 1 : 0)));
            }
        }
        assertTrue(worst < 2e-3, "(PHPᵀ + λI)·UᵀU differs from I by " + worst);
    }

    @Test
    void hessianIsTheSumOfOuterProducts() {
        Random r = new Random(5);
        int cols = 600; // more than one band of the product
        int rows = 37;
        float[] x = new float[rows * cols];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        Hessian h = new Hessian(cols);
        h.add(x, rows);
        float[] expected = new float[cols * cols];
        for (int t = 0; t < rows; t++) {
            for (int i = 0; i < cols; i++) {
                for (int j = 0; j < cols; j++) {
                    expected[i * cols + j] += x[t * cols + i] * x[t * cols + j];
                }
            }
        }
        assertArrayEquals(expected, h.sum(), 1e-3f);
        assertEquals(rows, h.tokens());
    }

    @ParameterizedTest
    @ValueSource(ints = {30, 128, 300, 517})
    void inverseCholeskyFactorsTheInverse(int n) {
        Random r = new Random(9);
        float[] m = new float[n * n];
        for (int i = 0; i < m.length; i++) {
            m[i] = (float) r.nextGaussian();
        }
        // A = M·Mᵀ/n + a few loud directions: symmetric positive definite, condition like real Hessians
        float[] a = new float[n * n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) {
                    s += (double) m[i * n + k] * m[j * n + k];
                }
                a[i * n + j] = (float) (s / n * (i % 13 == 0 && j % 13 == 0 ? 4 : 1));
            }
        }
        double lambda = 0.05;
        float[] u = InverseCholesky.of(a, n, lambda);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++) {
                assertEquals(0f, u[i * n + j], "U is upper triangular");
            }
        }
        // P = UᵀU, then (A + λI)·P must be I
        double[] p = new double[n * n];
        for (int l = 0; l < n; l++) {
            for (int k = 0; k < n; k++) {
                double ulk = u[l * n + k];
                if (ulk == 0) {
                    continue;
                }
                for (int j = 0; j < n; j++) {
                    p[k * n + j] += ulk * u[l * n + j];
                }
            }
        }
        double worst = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int k = 0; k < n; k++) {
                    s += (a[i * n + k] + (i == k ? lambda : 0)) * p[k * n + j];
                }
                worst = Math.max(worst, Math.abs(s - (i == j ? 1 : 0)));
            }
        }
        assertTrue(worst < 2e-3, n + ": (A + λI)·UᵀU differs from I by " + worst);
        assertEquals(null, InverseCholesky.of(new float[n * n], n, 0), "a zero matrix has no factor");
    }
}
