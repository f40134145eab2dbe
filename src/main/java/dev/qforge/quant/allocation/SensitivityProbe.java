package dev.qforge.quant.allocation;

import dev.qforge.format.GgufTensorNames;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.pipeline.MatrixQuantizer;
import dev.qforge.quant.gptq.GptqQuantizer;
import dev.qforge.quant.gptq.Hessian;
import dev.qforge.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The first stage of a bit allocation: every linear of the full-precision model quantized to every candidate type
 * by the method the final file will use (GPTQ onto the type's grid), on the calibration text's inputs as they
 * reach that linear, keeping GPTQ's loss — the squared error the quantization leaves in the linear's outputs,
 * ‖(W − Q)X‖² summed over the calibration tokens. The model itself is left full precision (the loop runs on
 * with the matrices it gave), so every tensor is measured alone, as the allocation's additive model assumes.
 * The quantized bytes of the types {@code keep} names are kept for {@link KldProbe}, which turns losses into
 * KL divergence.
 */
final class SensitivityProbe implements MatrixQuantizer {
    /** Floats of weights held in the heap at once (32 MiB). */
    private static final int ROWS_FLOATS = 8 << 20;

    /** One tensor's losses by type, and the bytes kept. */
    record Measured(String gguf, int rows, int cols, Map<GgmlType, Double> loss, Map<GgmlType, byte[]> bytes) {
    }

    /** Told after each matrix. */
    interface Listener {
        void matrixDone(int layer, String gguf);
    }

    private final Function<String, List<GgmlType>> candidates;
    private final Function<String, List<GgmlType>> keep;
    private final GptqQuantizer.Settings settings;
    private final Consumer<String> warnings;
    private final Listener listener;
    private final Map<String, Measured> measured = new LinkedHashMap<>();

    /**
     * @param candidates the types to measure a tensor in, by GGUF name
     * @param keep       the types whose bytes to keep, by GGUF name
     */
    SensitivityProbe(Function<String, List<GgmlType>> candidates, Function<String, List<GgmlType>> keep,
                     GptqQuantizer.Settings settings, Consumer<String> warnings, Listener listener) {
        this.candidates = candidates;
        this.keep = keep;
        this.settings = settings;
        this.warnings = warnings;
        this.listener = listener;
    }

    Map<String, Measured> measured() {
        return measured;
    }

    @Override
    public WeightMatrix quantize(int layer, String role, WeightMatrix source, Hessian inputs) {
        String gguf = GgufTensorNames.toGguf(source.name());
        int rows = source.rows();
        int cols = source.cols();
        List<GgmlType> types = candidates.apply(gguf);
        List<GgmlType> kept = keep.apply(gguf);
        Map<GgmlType, Double> loss = new LinkedHashMap<>();
        Map<GgmlType, byte[]> bytes = new LinkedHashMap<>();
        for (GgmlType t : kept) {
            bytes.put(t, new byte[Math.toIntExact(rows * t.rowBytes(cols))]);
        }
        // rounded with the mean squares as importance (what the final file's rounding gets), weighed by H's diagonal
        float[] importance = inputs.meanSquares();
        float[] diagonal = importance.clone();
        for (int i = 0; i < cols; i++) {
            diagonal[i] *= inputs.tokens();
        }
        int chunk = Math.max(1, Math.min(rows, ROWS_FLOATS / cols));
        float[] w = new float[chunk * cols];
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int n = Math.min(chunk, rows - r0);
            int first = r0;
            Parallel.forRange(n, r -> source.copyRowTo(first + r, w, r * cols));
            for (GgmlType t : types) {
                BlockFormat format = BlockFormats.byGgmlType(t.id());
                long rowBytes = t.rowBytes(cols);
                byte[] keepBytes = bytes.get(t);
                MemorySegment out = keepBytes != null ? MemorySegment.ofArray(keepBytes).asSlice(r0 * rowBytes, n * rowBytes)
                        : MemorySegment.ofArray(new byte[Math.toIntExact(n * rowBytes)]);
                double l;
                if (GptqQuantizer.supports(format)) {
                    l = GptqQuantizer.quantize(gguf, w, n, cols, inputs, format, out, settings, warnings).loss();
                } else {
                    // plain floats: rounded to nearest as the final file will be; the errors are nearly independent
                    // from column to column, so H's diagonal weighs them
                    l = diagonalLoss(format, w, n, cols, importance, diagonal, out);
                }
                loss.merge(t, l, Double::sum);
            }
        }
        measured.put(gguf, new Measured(gguf, rows, cols, loss, bytes));
        if (listener != null) {
            listener.matrixDone(layer, gguf);
        }
        return source;
    }

    /** Σ_j H_jj Σ_r (w − q)² of a round-to-nearest (with {@code importance}) into {@code out}. */
    static double diagonalLoss(BlockFormat format, float[] w, int rows, int cols, float[] importance, float[] diagonal,
                               MemorySegment out) {
        long rowBytes = format.rowBytes(cols);
        double[] perRow = new double[rows];
        Parallel.forRange(rows, r -> {
            format.quantize(w, r * cols, cols, importance, out, r * rowBytes);
            float[] q = new float[cols];
            format.dequantize(out, r * rowBytes, cols, q, 0);
            double s = 0;
            for (int j = 0; j < cols; j++) {
                double e = w[r * cols + j] - q[j];
                s += diagonal[j] * e * e;
            }
            perRow[r] = s;
        });
        double sum = 0;
        for (double v : perRow) {
            sum += v;
        }
        return sum;
    }
}
