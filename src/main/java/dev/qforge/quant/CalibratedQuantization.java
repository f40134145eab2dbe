package dev.qforge.quant;

import dev.qforge.QforgeException;
import dev.qforge.format.GgufTensorNames;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.model.Decoder;
import dev.qforge.pipeline.CalibrationSamples;
import dev.qforge.pipeline.LayerwiseCalibration;
import dev.qforge.pipeline.MatrixQuantizer;
import dev.qforge.quant.gptq.GptqQuantizer;
import dev.qforge.quant.gptq.Hessian;
import dev.qforge.quant.plan.LlamaCppMix;
import dev.qforge.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The calibrated methods as the layer-by-layer loop calls them: each projection matrix is quantized to the
 * type the plan gave its GGUF tensor, by GPTQ (error feedback onto the format's grid) or by rounding to
 * nearest with the calibration's mean squared inputs as importance (an imatrix made on the fly). The bytes
 * are kept, by Hugging Face name, for the GGUF writer.
 */
public final class CalibratedQuantization implements MatrixQuantizer {
    /** How a matrix is turned into blocks. */
    public enum Method {
        /** Round to nearest, block scales chosen with the calibration's importance (llama.cpp with an imatrix). */
        RTN,
        /** GPTQ's error feedback onto the block format's grid. */
        GPTQ;

        public static Method parse(String s) {
            for (Method m : values()) {
                if (m.name().equalsIgnoreCase(s)) {
                    return m;
                }
            }
            throw new QforgeException("unknown method '" + s + "'; known: rtn, gptq");
        }

        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Told after each matrix. */
    public interface Listener {
        void matrixDone(int layer, String role, String tensor, String type, double relativeLoss);
    }

    /** The method (and GPTQ's settings) for a tensor, by GGUF name: one for all, or a recipe's per-tensor choice. */
    @FunctionalInterface
    public interface MethodChoice {
        Assignment methodFor(String ggufName);
    }

    /** A tensor's method and, for GPTQ, its settings. */
    public record Assignment(Method method, GptqQuantizer.Settings settings) {
    }

    /** Floats of weights held in the heap at once (32 MiB). */
    private static final int ROWS_FLOATS = 8 << 20;

    private final Map<String, LlamaCppMix.Choice> planByGguf;
    private final MethodChoice methods;
    private final Consumer<String> warnings;
    private final Listener listener;
    private final CalibrationState tensors;

    /**
     * @param tensors where the quantized tensors go (they are read back from there by the decoder and the writer)
     */
    public CalibratedQuantization(List<LlamaCppMix.Choice> plan, Method method, GptqQuantizer.Settings settings,
                                  CalibrationState tensors, Consumer<String> warnings, Listener listener) {
        this(plan, name -> new Assignment(method, settings), tensors, warnings, listener);
    }

    /** Each tensor quantized by the method {@code methods} chooses for it. */
    public CalibratedQuantization(List<LlamaCppMix.Choice> plan, MethodChoice methods, CalibrationState tensors,
                                  Consumer<String> warnings, Listener listener) {
        this.tensors = tensors;
        this.methods = methods;
        this.planByGguf = new HashMap<>();
        plan.forEach(c -> planByGguf.put(c.name(), c));
        this.warnings = warnings;
        this.listener = listener;
    }

    /** The quantized tensors so far, by Hugging Face name, rows in checkpoint order. */
    public Map<String, MemorySegment> tensors() {
        return tensors.tensors();
    }

    private LlamaCppMix.Choice choice(WeightMatrix source) {
        String gguf = GgufTensorNames.toGguf(source.name());
        LlamaCppMix.Choice choice = gguf == null ? null : planByGguf.get(gguf);
        if (choice == null) {
            throw new IllegalStateException("no planned type for " + source.name());
        }
        return choice;
    }

    private static BlockFormat format(LlamaCppMix.Choice choice) {
        BlockFormat format = BlockFormats.byGgmlType(choice.type().id());
        if (format == null) {
            throw new QforgeException(choice.name() + ": qforge cannot write " + choice.type() + " tensors");
        }
        return format;
    }

    @Override
    public WeightMatrix restored(int layer, String role, WeightMatrix source) {
        boolean done = layer < 0 ? tensors.layersDone() > 0 && tensors.get(source.name()) != null : layer < tensors.layersDone();
        MemorySegment stored = done ? tensors.get(source.name()) : null;
        if (stored == null) {
            return null;
        }
        BlockFormat format = format(choice(source));
        return new WeightMatrix(source.name(), format, source.rows(), source.cols(), stored);
    }

    @Override
    public void layerDone(int layer) {
        tensors.layerDone(layer);
    }

    @Override
    public WeightMatrix quantize(int layer, String role, WeightMatrix source, Hessian inputs) {
        LlamaCppMix.Choice choice = choice(source);
        String gguf = choice.name();
        BlockFormat format = format(choice);
        int rows = source.rows();
        int cols = source.cols();
        long rowBytes = format.rowBytes(cols);
        byte[] bytes = new byte[Math.toIntExact(rows * rowBytes)];
        MemorySegment out = MemorySegment.ofArray(bytes);
        Assignment a = methods.methodFor(gguf);
        boolean gptq = a.method() == Method.GPTQ && GptqQuantizer.supports(format);
        float[] importance = gptq ? null : inputs.meanSquares();
        // Rows are independent given the Hessian (GPTQ's factor is made once, on the first chunk), so the
        // weights come through the heap a chunk of rows at a time: a 32000-row head or a 14336-row gate
        // never needs its whole float copy.
        int chunk = Math.max(1, Math.min(rows, ROWS_FLOATS / cols));
        float[] w = new float[chunk * cols];
        double loss = 0;
        double energy = 0;
        for (int r0 = 0; r0 < rows; r0 += chunk) {
            int n = Math.min(chunk, rows - r0);
            int first = r0;
            Parallel.forRange(n, r -> source.copyRowTo(first + r, w, r * cols));
            MemorySegment slice = out.asSlice(r0 * rowBytes, n * rowBytes);
            if (gptq) {
                for (int i = 0; i < n * cols; i++) {
                    energy += (double) w[i] * w[i];
                }
                loss += GptqQuantizer.quantize(gguf, w, n, cols, inputs, format, slice, a.settings(), warnings).loss();
            } else {
                Parallel.forRange(n, r -> format.quantize(w, r * cols, cols, importance, slice, r * rowBytes));
            }
        }
        double relativeLoss = gptq ? loss / Math.max(energy, Double.MIN_NORMAL) : Double.NaN;
        MemorySegment stored = tensors.put(source.name(), bytes);
        if (listener != null) {
            listener.matrixDone(layer, role, gguf, choice.type().toString(), relativeLoss);
        }
        return new WeightMatrix(source.name(), format, rows, cols, stored);
    }

    /** Runs the loop over {@code decoder} (the full-precision model, whose layers it replaces as it goes). */
    public void run(Decoder decoder, CalibrationSamples samples, boolean fullPrecisionOutputs,
                    LayerwiseCalibration.Listener progress) {
        new LayerwiseCalibration(decoder, fullPrecisionOutputs).run(samples, this, progress);
    }
}
