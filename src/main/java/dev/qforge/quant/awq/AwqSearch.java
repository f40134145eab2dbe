package dev.qforge.quant.awq;

import dev.qforge.QforgeException;
import dev.qforge.kernel.DenseMatrices;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.model.ModelConfig;
import dev.qforge.pipeline.MatrixQuantizer;
import dev.qforge.quant.gptq.Hessian;
import dev.qforge.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * AWQ's scale search (Lin et al., 2023), run by the layer-by-layer loop on the full-precision model: for each
 * group of linears that read one input (q/k/v after the attention norm, o after v, gate/up after the MLP norm,
 * down after up), the scales s = mean|x|^α (normalized so that √(max·min) = 1) for α on a grid, and the α
 * whose quantized linears change the layer's outputs least is kept. The change is measured exactly from the
 * input's Hessian — ‖X(W − Ŵ)ᵀ‖² = Σ_rows e·H·eᵀ — so no activations are stored, and Ŵ is what the planned
 * block format itself makes of W·diag(s) (its own scale search, with the scaled inputs' mean squares as
 * importance), divided back by s. α = 0 (no scaling) is on the grid, so a group is never made worse by this
 * measure. It leaves the weights as they are; {@link AwqScales} makes the scaled model.
 *
 * <p>The clipping search of AWQ's reference code is not repeated: every block format qforge writes chooses its
 * block scales by its own importance-weighted search, which is that search.
 */
public final class AwqSearch implements MatrixQuantizer {
    /** Multiply-adds spent on each linear's loss per α: rows are sampled (evenly) to stay within it. */
    private static final double FLOP_BUDGET = 2e9;
    private static final int MIN_ROWS = 64;

    /** @param grid how many α in [0, 1) are tried (the reference's n_grid, 20) */
    public record Settings(int grid) {
        public static final Settings DEFAULT = new Settings(20);

        public Settings {
            if (grid < 1 || grid > 1000) {
                throw new QforgeException("AWQ's grid must be 1 to 1000 points, not " + grid);
            }
        }
    }

    /** Told after each group: the α chosen and the loss at it relative to no scaling. */
    public interface Listener {
        void groupDone(int layer, String group, double alpha, double relativeLoss);
    }

    private final ModelConfig config;
    private final Function<String, BlockFormat> formats;
    private final Settings settings;
    private final Listener listener;
    private final AwqScales scales;
    private final Map<String, WeightMatrix> matrices = new HashMap<>();
    private final Map<String, Hessian> inputs = new HashMap<>();

    /**
     * @param formats the planned block format of each matrix, by Hugging Face name (null: kept in float, never
     *                quantized, so it does not count in the search)
     */
    public AwqSearch(ModelConfig config, Function<String, BlockFormat> formats, Settings settings, Listener listener) {
        this.config = config;
        this.formats = formats;
        this.settings = settings;
        this.listener = listener;
        this.scales = new AwqScales(config);
    }

    public AwqScales scales() {
        return scales;
    }

    @Override
    public boolean quantizesHead() {
        return false;
    }

    /** Collects the layer's seven matrices; when all are there, searches its four groups. Returns the source. */
    @Override
    public WeightMatrix quantize(int layer, String role, WeightMatrix source, Hessian input) {
        matrices.put(role, source);
        inputs.put(role, input);
        if (matrices.size() == 7) {
            searchLayer(layer);
            matrices.clear();
            inputs.clear();
        }
        return source;
    }

    private void searchLayer(int layer) {
        ModelConfig c = config;
        float[] attention = search(layer, "attention", inputs.get("q"), inputs.get("q").meanAbs(), null,
                List.of(matrices.get("q"), matrices.get("k"), matrices.get("v")));
        // o's input columns are query heads; the value scales have one entry per key/value channel
        float[] oAbs = inputs.get("o").meanAbs();
        float[] valueAbs = new float[c.kvDim()];
        int group = c.numHeads() / c.numKvHeads();
        int[] expand = new int[c.qDim()];
        for (int col = 0; col < expand.length; col++) {
            expand[col] = AwqScales.valueIndex(c, col);
            valueAbs[expand[col]] += oAbs[col] / group;
        }
        float[] values = search(layer, "values", inputs.get("o"), valueAbs, expand, List.of(matrices.get("o")));
        float[] mlp = search(layer, "mlp", inputs.get("gate"), inputs.get("gate").meanAbs(), null,
                List.of(matrices.get("gate"), matrices.get("up")));
        float[] down = search(layer, "down", inputs.get("down"), inputs.get("down").meanAbs(), null,
                List.of(matrices.get("down")));
        scales.set(layer, new AwqScales.Layer(attention, values, mlp, down));
    }

    /** Rows of one linear, sampled, with its format. */
    private record Sample(float[] w, int rows, BlockFormat format) {
    }

    /** A group's search: the scales (null when none beat leaving it as it is), α, and the loss relative to α = 0. */
    record Choice(float[] scales, double alpha, double relativeLoss) {
    }

    private float[] search(int layer, String group, Hessian h, float[] magnitudes, int[] expand, List<WeightMatrix> linears) {
        Choice c = search(h, magnitudes, expand, linears, formats, settings.grid());
        if (c == null) {
            return null;
        }
        if (listener != null) {
            listener.groupDone(layer, group, c.alpha(), c.relativeLoss());
        }
        return c.scales();
    }

    /**
     * The best scales for a group: one per entry of {@code magnitudes}; column c of the linears takes entry
     * {@code expand[c]} (or c, when expand is null). Null when nothing in the group is quantized.
     */
    static Choice search(Hessian h, float[] magnitudes, int[] expand, List<WeightMatrix> linears,
                         Function<String, BlockFormat> formats, int grid) {
        int cols = h.cols();
        List<Sample> samples = new ArrayList<>();
        for (WeightMatrix m : linears) {
            BlockFormat f = formats.apply(m.name());
            if (f != null) {
                samples.add(sample(m, f));
            }
        }
        if (samples.isEmpty() || h.tokens() == 0) {
            return null;
        }
        float[] meanSquares = h.meanSquares();
        float[] hessian = h.sum();
        float[] best = null;
        double bestLoss = Double.POSITIVE_INFINITY;
        double baseLoss = Double.NaN;
        double bestAlpha = 0;
        for (int g = 0; g < grid; g++) {
            double alpha = (double) g / grid;
            float[] t = powers(magnitudes, alpha);
            float[] s = expand(t, expand, cols);
            float[] importance = new float[cols];
            for (int col = 0; col < cols; col++) {
                importance[col] = meanSquares[col] / (s[col] * s[col]);
            }
            double loss = 0;
            for (Sample sm : samples) {
                loss += outputError(sm.w(), sm.rows(), cols, sm.format(), s, importance, hessian);
            }
            if (g == 0) {
                baseLoss = loss;
            }
            if (loss < bestLoss) {
                bestLoss = loss;
                best = t;
                bestAlpha = alpha;
            }
        }
        return new Choice(bestAlpha == 0 ? null : best, bestAlpha, baseLoss > 0 ? bestLoss / baseLoss : 1);
    }

    static float[] expand(float[] t, int[] expand, int cols) {
        float[] s = new float[cols];
        for (int col = 0; col < cols; col++) {
            s[col] = t[expand == null ? col : expand[col]];
        }
        return s;
    }

    /** mean|x|^α, clamped away from zero, normalized so that √(max·min) = 1 (the reference's normalization). */
    static float[] powers(float[] magnitudes, double alpha) {
        float[] t = new float[magnitudes.length];
        double max = 0;
        double min = Double.POSITIVE_INFINITY;
        for (int i = 0; i < t.length; i++) {
            double v = Math.max(Math.pow(magnitudes[i], alpha), 1e-4);
            t[i] = (float) v;
            max = Math.max(max, v);
            min = Math.min(min, v);
        }
        float norm = (float) Math.sqrt(max * min);
        for (int i = 0; i < t.length; i++) {
            t[i] /= norm;
        }
        return t;
    }

    private static Sample sample(WeightMatrix m, BlockFormat f) {
        int cols = m.cols();
        int n = (int) Math.min(m.rows(), Math.max(MIN_ROWS, FLOP_BUDGET / ((double) cols * cols)));
        float[] w = new float[n * cols];
        Parallel.forRange(n, i -> m.copyRowTo((int) ((long) i * m.rows() / n), w, i * cols));
        return new Sample(w, n, f);
    }

    /** Σ e·H·eᵀ over the n rows of w, e = w − Q(w·s)/s with Q the format's quantize-dequantize. */
    static double outputError(float[] w, int n, int cols, BlockFormat f, float[] s, float[] importance, float[] hessian) {
        float[] e = new float[n * cols];
        int rowBytes = Math.toIntExact(f.rowBytes(cols));
        Parallel.forRange(n, r -> {
            float[] scaled = new float[cols];
            for (int col = 0; col < cols; col++) {
                scaled[col] = w[r * cols + col] * s[col];
            }
            MemorySegment q = MemorySegment.ofArray(new byte[rowBytes]);
            f.quantize(scaled, 0, cols, importance, q, 0);
            f.dequantize(q, 0, cols, scaled, 0);
            for (int col = 0; col < cols; col++) {
                e[r * cols + col] = w[r * cols + col] - scaled[col] / s[col];
            }
        });
        // H is symmetric: e·Hᵀ = e·H
        float[] eh = DenseMatrices.timesTransposed(e, n, hessian, cols);
        double sum = 0;
        for (int i = 0; i < e.length; i++) {
            sum += (double) e[i] * eh[i];
        }
        return sum;
    }
}
