package dev.qforge.quant.write;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qforge.QforgeException;
import dev.qforge.format.AtomicFile;
import dev.qforge.format.GgufTensorInfo;
import dev.qforge.format.GgufTensorNames;
import dev.qforge.format.GgufValue;
import dev.qforge.format.GgufWriter;
import dev.qforge.format.Imatrix;
import dev.qforge.format.JsonFiles;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.model.HfConfigFile;
import dev.qforge.model.ModelConfig;
import dev.qforge.model.ModelFamily;
import dev.qforge.model.RopeScaling;
import dev.qforge.model.TensorLayout;
import dev.qforge.quant.plan.LlamaCppMix;
import dev.qforge.quant.plan.LlamaFileType;
import dev.qforge.quant.plan.TensorTypeOverride;
import dev.qforge.quant.rtn.RoundToNearest;
import dev.qforge.quant.transform.LlamaQkPermutation;
import dev.qforge.tensor.Tensor;
import dev.qforge.tokenizer.GgufTokenizerMetadata;
import dev.qforge.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes a Hugging Face Llama-family model (llama, mistral, qwen2, qwen3) as the GGUF file llama.cpp's
 * converter followed by {@code llama-quantize} would: llama.cpp's metadata (general, hyper-parameters,
 * RoPE, tokenizer), its tensor names, the q/k row permutation of the llama architecture
 * ({@link LlamaQkPermutation}), and each tensor in the type the plan ({@link LlamaCppMix}) gives it. The
 * writer is the last stage of a quantization job: tensors a calibrated method has already quantized
 * ({@link Calibrated}) are copied in; the others are quantized while the file is written by
 * {@link RoundToNearest}, with the imatrix's importance when one is given (llama-quantize's own bytes).
 * The file appears (atomically) only when complete.
 */
public final class GgufModelWriter {
    /**
     * What to write. {@code imatrix} may be null; {@code imatrixName} is what the file records of it;
     * {@code name} is general.name (null: the model directory's name).
     */
    public record Options(LlamaFileType type, Imatrix imatrix, String imatrixName, List<TensorTypeOverride> overrides,
                          String name, Calibrated calibrated, Map<String, GgufValue> extraMetadata) {
        public Options {
            overrides = List.copyOf(overrides);
            extraMetadata = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(extraMetadata));
        }

        public static Options of(LlamaFileType type) {
            return new Options(type, null, null, List.of(), null, null, Map.of());
        }

        public Options withType(LlamaFileType type) {
            return new Options(type, imatrix, imatrixName, overrides, name, calibrated, extraMetadata);
        }

        public Options withImatrix(Imatrix imatrix, String imatrixName) {
            return new Options(type, imatrix, imatrixName, overrides, name, calibrated, extraMetadata);
        }

        public Options withOverrides(List<TensorTypeOverride> overrides) {
            return new Options(type, imatrix, imatrixName, overrides, name, calibrated, extraMetadata);
        }

        public Options withName(String name) {
            return new Options(type, imatrix, imatrixName, overrides, name, calibrated, extraMetadata);
        }

        public Options withCalibrated(Calibrated calibrated) {
            return new Options(type, imatrix, imatrixName, overrides, name, calibrated, extraMetadata);
        }

        /** More metadata, written after the rest (keys in the given order; e.g. a bit allocation's summary). */
        public Options withMetadata(Map<String, GgufValue> extra) {
            return new Options(type, imatrix, imatrixName, overrides, name, calibrated, extra);
        }
    }

    /**
     * Tensors a calibrated method has already quantized, by Hugging Face name, in the planned type, rows in the
     * checkpoint's order (the writer applies the q/k row permutation to whole rows); {@code method} and
     * {@code dataset} are recorded in the file's metadata.
     */
    public record Calibrated(java.util.Map<String, MemorySegment> tensors, String method, String dataset, int samples, int ctx) {
    }

    /** Told after each tensor is written. */
    @FunctionalInterface
    public interface Listener {
        void tensorWritten(int done, int total, LlamaCppMix.Choice choice, long bytes);
    }

    /** What was written: the file, its size, the weights (elements) and bytes of all tensors, each tensor's type. */
    public record Result(Path file, long fileBytes, long weights, long tensorBytes, List<LlamaCppMix.Choice> choices,
                         double seconds) {
        public double bitsPerWeight() {
            return 8.0 * tensorBytes / weights;
        }
    }

    private final Path modelDir;
    private final ModelConfig config;
    private final JsonNode configJson;
    private final String arch;

    private GgufModelWriter(Path modelDir) {
        this.modelDir = modelDir;
        Path configFile = modelDir.resolve("config.json");
        this.config = HfConfigFile.read(configFile);
        this.configJson = JsonFiles.readObject(configFile);
        this.arch = ggufArchitecture(config.family());
    }

    /** The GGUF architecture llama.cpp runs a family as. */
    public static String ggufArchitecture(ModelFamily family) {
        return switch (family) {
            case LLAMA, MISTRAL -> "llama";
            case QWEN2 -> "qwen2";
            case QWEN3 -> "qwen3";
        };
    }

    /** Writes {@code modelDir} to {@code target}. */
    public static Result write(Path modelDir, Path target, Options options, Listener listener) {
        return new GgufModelWriter(modelDir).run(target, options, listener);
    }

    /**
     * The type llama.cpp's mix (with the options' overrides) gives each tensor, by GGUF name, in file order,
     * when the tensors are quantized with importance (an imatrix or a calibration) or without.
     */
    public static List<LlamaCppMix.Choice> plan(Path modelDir, Options options, boolean withImportance) {
        GgufModelWriter export = new GgufModelWriter(modelDir);
        try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(modelDir)) {
            return export.plan(checkpoint, options, withImportance, new LinkedHashMap<>(), new long[1]);
        }
    }

    /**
     * The size in bytes of the file {@link #write} would make of {@code modelDir} with these options — its plan,
     * its metadata, the alignment — without quantizing anything. A calibrated run's {@link Calibrated} may have no
     * tensors yet: only its method and dataset are read, for the metadata.
     */
    public static long fileSize(Path modelDir, Options options) {
        GgufModelWriter export = new GgufModelWriter(modelDir);
        Tokenizer tokenizer = Tokenizer.load(modelDir);
        try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(modelDir)) {
            long[] weightCount = new long[1];
            List<LlamaCppMix.Choice> plan = export.plan(checkpoint, options,
                    options.imatrix() != null || options.calibrated() != null, new LinkedHashMap<>(), weightCount);
            GgufWriter w = new GgufWriter();
            export.metadata(w, tokenizer, weightCount[0], options);
            for (LlamaCppMix.Choice c : plan) {
                w.addTensor(c.name(), c.type(), c.ne(), out -> {
                    throw new IllegalStateException("a size is counted, not written");
                });
            }
            return w.fileSize();
        }
    }

    /**
     * Refuses, before any work, a plan with a tensor whose type needs importance (the lattice formats) that will
     * have none: neither quantized by the calibration ({@code calibrated}) nor weighted by an imatrix entry (the
     * embedding never is). llama-quantize refuses the same.
     */
    public static void requireImportance(List<LlamaCppMix.Choice> plan, Options options, java.util.function.Predicate<String> calibrated) {
        for (LlamaCppMix.Choice c : plan) {
            dev.qforge.kernel.blocks.BlockFormat f = dev.qforge.kernel.blocks.BlockFormats.byGgmlType(c.type().id());
            if (!c.quantized() || f == null || !f.needsImportance() || calibrated.test(c.name())) {
                continue;
            }
            boolean weighted = options.imatrix() != null && options.imatrix().contains(c.name()) && !c.name().equals("token_embd.weight");
            if (!weighted) {
                throw new QforgeException(c.name() + ": " + c.type() + " needs importance (as llama-quantize): "
                        + (c.name().equals("token_embd.weight") ? "the embedding is quantized without it; give it another type with --tensor-type token_embd=Q2_K"
                        : options.imatrix() == null ? "give --imatrix FILE or --calib FILE" : "the imatrix has no entry for it"));
            }
        }
    }

    private List<LlamaCppMix.Choice> plan(SafetensorsCheckpoint checkpoint, Options options, boolean withImportance,
                                          Map<String, TensorLayout.Spec> byGguf, long[] weightCount) {
        TensorLayout.requireNoExtraLayers(config, checkpoint);
        List<LlamaCppMix.TensorShape> shapes = new ArrayList<>();
        long weights = 0;
        for (TensorLayout.Spec s : TensorLayout.of(config)) {
            String g = GgufTensorNames.toGguf(s.name());
            if (g == null) {
                throw new IllegalStateException("no GGUF name for " + s.name());
            }
            Tensor t = checkpoint.tensor(s.name());
            if (!java.util.Arrays.equals(t.shape(), s.shape())) {
                throw new QforgeException(checkpoint.source() + ": tensor '" + s.name() + "' has shape "
                        + java.util.Arrays.toString(t.shape()) + ", config.json implies " + java.util.Arrays.toString(s.shape()));
            }
            if (!t.dtype().isFloatingPoint()) {
                throw new QforgeException(checkpoint.source() + ": tensor '" + s.name() + "' is " + t.dtype() + ", not floating point");
            }
            byGguf.put(g, s);
            shapes.add(new LlamaCppMix.TensorShape(g, ggmlDims(s.shape())));
            weights += t.elementCount();
        }
        float[] ropeFreqs = ropeFreqs();
        if (ropeFreqs != null) {
            shapes.add(new LlamaCppMix.TensorShape("rope_freqs.weight", new long[]{ropeFreqs.length}));
        }
        weightCount[0] = weights;
        LlamaCppMix mix = new LlamaCppMix(options.type(), new LlamaCppMix.Hparams(arch, config.numLayers(),
                config.numHeads(), config.numKvHeads(), 0), withImportance, options.overrides());
        return mix.plan(shapes);
    }

    private Result run(Path target, Options options, Listener listener) {
        long t0 = System.nanoTime();
        Tokenizer tokenizer = Tokenizer.load(modelDir);
        try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(modelDir)) {
            Map<String, TensorLayout.Spec> byGguf = new LinkedHashMap<>();
            long[] weightCount = new long[1];
            List<LlamaCppMix.Choice> plan = plan(checkpoint, options,
                    options.imatrix() != null || options.calibrated() != null, byGguf, weightCount);
            long weights = weightCount[0];
            float[] ropeFreqs = ropeFreqs();
            Map<String, MemorySegment> quantized = options.calibrated() == null ? Map.of() : options.calibrated().tensors();
            requireImportance(plan, options, g -> {
                TensorLayout.Spec spec = byGguf.get(g);
                return spec != null && quantized.containsKey(spec.name());
            });

            GgufWriter w = new GgufWriter();
            metadata(w, tokenizer, weights, options);
            long[] tensorBytes = {0};
            int[] done = {0};
            for (LlamaCppMix.Choice c : plan) {
                long bytes = GgufTensorInfo.byteSize(c.type(), c.ne());
                tensorBytes[0] += bytes;
                AtomicFile.Producer body;
                if (c.name().equals("rope_freqs.weight")) {
                    body = out -> writeFloats(out, ropeFreqs);
                } else {
                    TensorLayout.Spec spec = byGguf.get(c.name());
                    Tensor t = checkpoint.tensor(spec.name());
                    float[] importance = null;
                    if (options.imatrix() != null && c.quantized() && !c.name().equals("token_embd.weight")) {
                        importance = options.imatrix().importance(c.name(), c.ne()[0]);
                    }
                    if (importance == null && options.calibrated() == null && options.type() == LlamaFileType.Q2_K_S && c.type() == GgmlType.Q2_K
                            && !c.name().equals("token_embd.weight")) {
                        throw new QforgeException(c.name() + ": Q2_K_S needs importance for every Q2_K tensor (as llama-quantize); "
                                + (options.imatrix() == null ? "give an --imatrix" : "the imatrix has no entry for it"));
                    }
                    float[] imp = importance;
                    MemorySegment ready = options.calibrated() == null ? null : options.calibrated().tensors().get(spec.name());
                    body = ready != null ? out -> writeRows(out, ready, c, permutation(c.name()))
                            : out -> RoundToNearest.write(out, t, c.name(), c.type(), permutation(c.name()), imp);
                }
                AtomicFile.Producer inner = body;
                w.addTensor(c.name(), c.type(), c.ne(), out -> {
                    inner.writeTo(out);
                    if (listener != null) {
                        listener.tensorWritten(++done[0], plan.size(), c, bytes);
                    }
                });
            }
            w.write(target);
            long size;
            try {
                size = Files.size(target);
            } catch (IOException e) {
                throw new QforgeException(target + ": cannot read size: " + e.getMessage(), e);
            }
            return new Result(target, size, weights, tensorBytes[0], plan, (System.nanoTime() - t0) / 1e9);
        }
    }

    private static long[] ggmlDims(long[] shape) {
        long[] ne = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            ne[i] = shape[shape.length - 1 - i];
        }
        return ne;
    }

    // ---- metadata -------------------------------------------------------------------------------------------

    private void metadata(GgufWriter w, Tokenizer tokenizer, long weights, Options options) {
        String a = arch + ".";
        w.putString("general.architecture", arch);
        w.putString("general.type", "model");
        w.putString("general.name", options.name() != null ? options.name() : modelName());
        w.putString("general.size_label", sizeLabel(weights));
        w.putUInt32(a + "block_count", config.numLayers());
        w.putUInt32(a + "context_length", config.maxPositions());
        w.putUInt32(a + "embedding_length", config.hiddenSize());
        w.putUInt32(a + "feed_forward_length", config.intermediateSize());
        w.putUInt32(a + "attention.head_count", config.numHeads());
        w.putUInt32(a + "attention.head_count_kv", config.numKvHeads());
        w.putFloat32(a + "rope.freq_base", (float) config.ropeTheta());
        w.putFloat32(a + "attention.layer_norm_rms_epsilon", config.rmsNormEps());
        if (configJson.hasNonNull("head_dim") || config.headDim() * config.numHeads() != config.hiddenSize()) {
            w.putUInt32(a + "attention.key_length", config.headDim());
            w.putUInt32(a + "attention.value_length", config.headDim());
        }
        if (arch.equals("llama")) {
            w.putUInt32(a + "vocab_size", config.vocabSize());
            w.putUInt32(a + "rope.dimension_count", config.headDim());
        }
        if (config.ropeScaling().type() == RopeScaling.Type.LINEAR) {
            w.putString(a + "rope.scaling.type", "linear");
            w.putFloat32(a + "rope.scaling.factor", (float) config.ropeScaling().factor());
        }
        GgufTokenizerMetadata.of(modelDir, tokenizer, config.vocabSize()).forEach(w::put);
        w.putUInt32("general.quantization_version", 2);
        w.putUInt32("general.file_type", options.type().id());
        if (options.imatrix() != null) {
            Imatrix im = options.imatrix();
            w.putString("quantize.imatrix.file", options.imatrixName() != null ? options.imatrixName()
                    : im.source() != null ? im.source().getFileName().toString() : "imatrix");
            if (!im.datasets().isEmpty()) {
                w.putString("quantize.imatrix.dataset", im.datasets().getFirst());
            }
            w.putInt32("quantize.imatrix.entries_count", im.entries().size());
            w.putInt32("quantize.imatrix.chunks_count", im.chunkCount());
        }
        if (options.calibrated() != null) {
            Calibrated cal = options.calibrated();
            w.putString("quantize.qforge.method", cal.method());
            w.putString("quantize.qforge.calibration", cal.dataset() + " (" + cal.samples() + " x " + cal.ctx() + " tokens)");
        }
        options.extraMetadata().forEach(w::put);
    }

    private String modelName() {
        return modelName(modelDir);
    }

    /** A model's name: its directory's name (the parent's when the directory is just "hf"). */
    public static String modelName(Path modelDir) {
        Path abs = modelDir.toAbsolutePath().normalize();
        Path name = abs.getFileName();
        if (name != null && name.toString().equalsIgnoreCase("hf") && abs.getParent() != null
                && abs.getParent().getFileName() != null) {
            name = abs.getParent().getFileName();
        }
        return name == null ? "model" : name.toString();
    }

    /** Parameter count as llama.cpp's converter labels it: "8.4M", "260K", "1.1B". */
    public static String sizeLabel(long params) {
        double scaled;
        String suffix;
        if (params > 1e12) {
            scaled = params * 1e-12;
            suffix = "T";
        } else if (params > 1e9) {
            scaled = params * 1e-9;
            suffix = "B";
        } else if (params > 1e6) {
            scaled = params * 1e-6;
            suffix = "M";
        } else {
            scaled = params * 1e-3;
            suffix = "K";
        }
        String integer = Long.toString(Math.round(scaled)).replaceFirst("^0+", "");
        int decimals = Math.max(2 - integer.length(), 0);
        return String.format(Locale.ROOT, "%." + decimals + "f%s", scaled, suffix);
    }

    /** Llama 3's rope scaling as llama.cpp stores it: a factor per rotary pair (tensor rope_freqs.weight). */
    private float[] ropeFreqs() {
        RopeScaling rs = config.ropeScaling();
        if (rs.type() != RopeScaling.Type.LLAMA3 || !arch.equals("llama")) {
            return null;
        }
        return rs.freqFactors(config.ropeTheta(), config.headDim());
    }

    // ---- tensors --------------------------------------------------------------------------------------------

    private int[] permutation(String ggufName) {
        return LlamaQkPermutation.of(arch, config, ggufName);
    }

    /** Writes rows already quantized (in checkpoint order), each row moved to its place under the permutation. */
    private static void writeRows(OutputStream out, MemorySegment rows, LlamaCppMix.Choice c, int[] perm) throws IOException {
        long expected = GgufTensorInfo.byteSize(c.type(), c.ne());
        if (rows.byteSize() != expected) {
            throw new IllegalStateException(c.name() + ": " + rows.byteSize() + " quantized bytes, " + c.type() + " needs " + expected);
        }
        long rowCount = perm == null ? Math.max(1, c.ne().length > 1 ? c.ne()[1] : 1) : perm.length;
        int rowBytes = Math.toIntExact(rows.byteSize() / rowCount);
        byte[] row = new byte[rowBytes];
        for (long r = 0; r < rowCount; r++) {
            long src = perm == null ? r : perm[(int) r];
            MemorySegment.copy(rows, java.lang.foreign.ValueLayout.JAVA_BYTE, src * rowBytes, row, 0, rowBytes);
            out.write(row);
        }
    }

    private static void writeFloats(OutputStream out, float[] values) throws IOException {
        byte[] b = new byte[values.length * 4];
        MemorySegment.copy(values, 0, MemorySegment.ofArray(b), Tensor.F32, 0, values.length);
        out.write(b);
    }
}
