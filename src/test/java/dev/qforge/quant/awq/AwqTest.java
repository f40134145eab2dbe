package dev.qforge.quant.awq;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.model.ModelConfig;
import dev.qforge.model.SyntheticModel;
import dev.qforge.model.SyntheticShape;
import dev.qforge.quant.gptq.Hessian;
import dev.qforge.quant.transform.SameFunction;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** AWQ's scales must leave the float model's function as it was, and its search must find what helps. */
class AwqTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @EnumSource(value = SyntheticShape.class, names = {"TINY_LLAMA", "TINY_LLAMA_TIED", "TINY_QWEN2", "TINY_QWEN3"})
    void theScaledModelComputesTheSameLogits(SyntheticShape shape) {
        Path model = tmp.resolve(shape.id());
        SyntheticModel.write(shape.config(), DType.F32, 11, Long.MAX_VALUE, model, null);
        ModelConfig c = shape.config();
        AwqScales scales = new AwqScales(c);
        Random r = new Random(4);
        for (int layer = 0; layer < c.numLayers(); layer++) {
            // scales far from 1, so that a scale applied to one side only would show in the logits
            scales.set(layer, new AwqScales.Layer(random(r, c.hiddenSize()), random(r, c.kvDim()),
                    random(r, c.hiddenSize()), random(r, c.intermediateSize())));
        }
        Path scaled = tmp.resolve(shape.id() + "-awq");
        scales.write(model, scaled);
        SameFunction.assertSameLogits(model, scaled, shape.toString());
    }

    @Test
    void valueScalesAreSharedByTheQueryHeadsOfAGroup() {
        ModelConfig c = SyntheticShape.TINY_LLAMA.config(); // 4 query heads over 2 key/value heads of 16
        assertEquals(0, AwqScales.valueIndex(c, 0));
        assertEquals(5, AwqScales.valueIndex(c, 16 + 5), "query head 1 reads key/value head 0");
        assertEquals(16 + 5, AwqScales.valueIndex(c, 32 + 5), "query head 2 reads key/value head 1");
        assertEquals(16 + 15, AwqScales.valueIndex(c, 63));
    }

    @Test
    void theLossFromTheHessianIsTheOutputErrorOnTheInputs() {
        int rows = 8;
        int cols = 64;
        int tokens = 200;
        Random r = new Random(1);
        float[] x = inputs(r, tokens, cols);
        float[] w = gaussian(r, rows * cols);
        Hessian h = new Hessian(cols);
        h.add(x, tokens);
        BlockFormat q40 = BlockFormats.byGgmlType(2);
        float[] s = random(r, cols);
        float[] importance = new float[cols];
        java.util.Arrays.fill(importance, 1f);
        double fromHessian = AwqSearch.outputError(w, rows, cols, q40, s, importance, h.sum());
        // the same by hand: ŵ = Q(w·s)/s, then Σ over tokens and rows of (x·(w − ŵ))²
        double direct = 0;
        for (int row = 0; row < rows; row++) {
            float[] scaled = new float[cols];
            for (int col = 0; col < cols; col++) {
                scaled[col] = w[row * cols + col] * s[col];
            }
            MemorySegment b = MemorySegment.ofArray(new byte[(int) q40.rowBytes(cols)]);
            q40.quantize(scaled, 0, cols, importance, b, 0);
            q40.dequantize(b, 0, cols, scaled, 0);
            for (int t = 0; t < tokens; t++) {
                double y = 0;
                for (int col = 0; col < cols; col++) {
                    y += (double) x[t * cols + col] * (w[row * cols + col] - scaled[col] / s[col]);
                }
                direct += y * y;
            }
        }
        assertEquals(direct, fromHessian, 1e-3 * direct);
    }

    @Test
    void theSearchScalesUpTheChannelsThatCarryLargeInputs() {
        int rows = 64;
        int cols = 256;
        int tokens = 512;
        Random r = new Random(2);
        float[] x = inputs(r, tokens, cols);
        Hessian h = new Hessian(cols);
        h.add(x, tokens);
        float[] w = gaussian(r, rows * cols);
        WeightMatrix m = new WeightMatrix("m", BlockFormats.byGgmlType(0), rows, cols, MemorySegment.ofArray(w));
        AwqSearch.Choice c = AwqSearch.search(h, h.meanAbs(), null, List.of(m), name -> BlockFormats.byGgmlType(2), 20);
        assertNotNull(c.scales(), "some α > 0 must beat no scaling when a few channels carry 30× the input");
        assertTrue(c.alpha() > 0);
        assertTrue(c.relativeLoss() < 0.9, "output error relative to unscaled: " + c.relativeLoss());
        float loud = c.scales()[0];
        float quiet = c.scales()[100];
        assertTrue(loud > quiet, "the loud channel's scale " + loud + " must exceed a quiet one's " + quiet);
        // a group with nothing quantized has nothing to search
        assertNull(AwqSearch.search(h, h.meanAbs(), null, List.of(m), name -> null, 20));
    }

    /** Gaussian inputs whose first 4 channels are 30× louder, as in the activation outliers AWQ is about. */
    private static float[] inputs(Random r, int tokens, int cols) {
        float[] x = new float[tokens * cols];
        for (int t = 0; t < tokens; t++) {
            for (int col = 0; col < cols; col++) {
                x[t * cols + col] = (float) r.nextGaussian() * (col < 4 ? 30 : 1);
            }
        }
        return x;
    }

    private static float[] gaussian(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    private static float[] random(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) Math.exp((r.nextDouble() * 2 - 1) * Math.log(4));
        }
        return v;
    }
}
