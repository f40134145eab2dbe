package dev.qforge.quant.allocation;

import dev.qforge.QforgeException;
import dev.qforge.format.GgufFile;
import dev.qforge.format.GgufTensorInfo;
import dev.qforge.format.GgufTensorNames;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.model.DecoderWeights;
import dev.qforge.model.LayerWeights;
import dev.qforge.pipeline.CalibrationSamples;
import dev.qforge.pipeline.LayerwiseCalibration;
import dev.qforge.quant.gptq.GptqQuantizer;
import dev.qforge.quant.plan.LlamaCppMix;
import dev.qforge.quant.plan.LlamaFileType;
import dev.qforge.quant.plan.TensorTypeOverride;
import dev.qforge.quant.write.GgufModelWriter;
import dev.qforge.runtime.QModel;
import dev.qforge.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The plan stage of a quantization job as a measured bit allocation, in place of llama.cpp's hand-written mix
 * rules: which type each tensor gets so that the file fits a size and the output distribution moves least.
 *
 * <ol>
 *   <li>Sizes first, before any work: the file's fixed part (metadata, norms), the smallest and the F16 file — a
 *       budget outside them is an error.</li>
 *   <li>Each linear, alone, quantized by GPTQ to every candidate type on the calibration text ({@link SensitivityProbe}):
 *       its output error per type. The embedding's error per type is its rows' squared error weighted by how often
 *       the calibration text uses each token.</li>
 *   <li>The KL divergence each tensor alone causes, measured on a few calibration sequences ({@link KldProbe}) for
 *       one reference type (or, with {@code measureAll}, every type): it scales that tensor's errors into expected
 *       KLD. How far output error predicts KLD differs from tensor to tensor by orders of magnitude (the first
 *       layers' and the head's errors reach the logits differently), which is why it is measured per tensor.</li>
 *   <li>The knapsack over expected KLDs ({@link BitAllocator}), within the budget less the fixed part.</li>
 * </ol>
 */
public final class BitAllocation {
    /**
     * What to allocate.
     *
     * @param measureSequences calibration sequences the KLDs are measured on (the first ones drawn)
     * @param reference        the type whose KLD is measured for each tensor (the nearest candidate if a tensor lacks it)
     * @param measureAll       measure the KLD of every candidate type instead of scaling GPTQ's errors by one
     */
    public record Request(SizeBudget budget, List<GgmlType> candidates, int measureSequences, GgmlType reference,
                          boolean measureAll, GptqQuantizer.Settings gptq) {
        public static final int DEFAULT_MEASURE_SEQUENCES = 8;
        public static final GgmlType DEFAULT_REFERENCE = GgmlType.Q3_K;

        public Request {
            if (measureSequences < 1) {
                throw new QforgeException("--sensitivity-samples must be >= 1, not " + measureSequences);
            }
        }

        /** What the file records of how the sensitivities were measured. */
        String sensitivityLabel(int sequences, int ctx) {
            return measureAll
                    ? String.format(Locale.ROOT, "KLD measured per tensor and type on %d x %d tokens", sequences, ctx)
                    : String.format(Locale.ROOT, "GPTQ output error per type, scaled by the KLD measured at %s per tensor on %d x %d tokens",
                    reference, sequences, ctx);
        }
    }

    /** Progress of the stages, as the job reports it. */
    public interface Progress {
        void progress(String stage, int done, int total, String detail);
    }

    /** The sizes a budget is checked against. */
    public record Sizes(long fixedBytes, long minimumFileBytes, long f16FileBytes, long weights) {
    }

    /** One tensor the allocation places: GGUF name, dims, its candidates (one when pinned by an override). */
    private record Slot(String name, long[] ne, List<GgmlType> types, boolean pinned) {
        long weights() {
            long n = 1;
            for (long d : ne) {
                n *= d;
            }
            return n;
        }
    }

    private BitAllocation() {
    }

    /**
     * The sizes of {@code source}'s files under {@code options} (whose metadata, user overrides and calibration label
     * the file will have): checked before any work, and the budget refused when it cannot be met or is above F16.
     */
    public static Sizes checkBudget(Path source, GgufModelWriter.Options options, Request request, CalibrationSamples samples) {
        return checkBudget(source, options, request, samples, slots(source, options, request.candidates()));
    }

    private static Sizes checkBudget(Path source, GgufModelWriter.Options options, Request request, CalibrationSamples samples,
                                     List<Slot> slots) {
        Map<String, GgmlType> f16 = new HashMap<>();
        slots.forEach(s -> f16.put(s.name(), s.pinned() ? s.types().getFirst() : GgmlType.F16));
        GgufModelWriter.Options withMeta = options.withMetadata(merged(options, Allocation.metadata(request.budget().bytes(), 0,
                label(request, samples), request.candidates())));
        long f16File = GgufModelWriter.fileSize(source, pinned(withMeta, f16));
        long fixed = f16File;
        long minimum = 0;
        for (Slot s : slots) {
            fixed -= aligned(f16.get(s.name()), s.ne());
            minimum += s.types().stream().mapToLong(t -> aligned(t, s.ne())).min().orElseThrow();
        }
        long weights = dev.qforge.format.SafetensorsCheckpoint.elementCount(source);
        Sizes sizes = new Sizes(fixed, fixed + minimum, f16File, weights);
        long target = request.budget().bytes();
        if (target < sizes.minimumFileBytes()) {
            throw new QforgeException(String.format(Locale.ROOT,
                    "the target of %,d bytes (%s) is below the smallest file the candidate types make of this model: %,d bytes (%.3f bits per weight, every tensor in its smallest type)",
                    target, request.budget().asGiven(), sizes.minimumFileBytes(), 8.0 * sizes.minimumFileBytes() / weights));
        }
        if (target > f16File) {
            throw new QforgeException(String.format(Locale.ROOT,
                    "the target of %,d bytes (%s) is above the F16 file of this model (%,d bytes, %.2f bits per weight): nothing to allocate; write it with -t F16",
                    target, request.budget().asGiven(), f16File, 8.0 * f16File / weights));
        }
        return sizes;
    }

    /** Measures, allocates, and returns the allocation (the job then quantizes with its overrides). */
    public static Allocation run(Path source, GgufModelWriter.Options options, CalibrationSamples samples, Request request,
                                 Consumer<String> notes, Progress progress) {
        List<Slot> slots = slots(source, options, request.candidates());
        Sizes sizes = checkBudget(source, options, request, samples, slots);
        int sequences = Math.min(request.measureSequences(), samples.count());
        String label = label(request, samples);
        Map<String, Slot> byName = new LinkedHashMap<>();
        slots.forEach(s -> byName.put(s.name(), s));
        Map<String, List<GgmlType>> kept = new HashMap<>();
        for (Slot s : slots) {
            kept.put(s.name(), request.measureAll() ? s.types() : List.of(nearest(s.types(), request.reference())));
        }
        Map<String, SensitivityProbe.Measured> measured;
        Map<String, Map<GgmlType, Double>> klds = new HashMap<>();
        try (QModel model = QModel.load(source)) {
            int layers = model.config().numLayers();
            notes.accept(String.format(Locale.ROOT, "bit allocation: measuring %d tensors in %d candidate types (%s) on %d samples of %d tokens ...",
                    slots.size(), request.candidates().size(), String.join(", ", request.candidates().stream().map(Enum::name).toList()),
                    samples.count(), samples.ctx()));
            SensitivityProbe probe = new SensitivityProbe(
                    g -> byName.containsKey(g) ? byName.get(g).types() : List.of(),
                    g -> kept.getOrDefault(g, List.of()), request.gptq(), w -> notes.accept("qforge: warning: " + w), null);
            new LayerwiseCalibration(model.decoder(), true).run(samples, probe, (layer, all, seconds) ->
                    progress.progress("allocation: errors by type", layer + 1, all, String.format(Locale.ROOT, "layer %d/%d, %.1f s", layer + 1, all, seconds)));
            measured = new LinkedHashMap<>(probe.measured());
            DecoderWeights w = model.decoder().weights();
            Slot embedding = byName.get("token_embd.weight");
            if (embedding != null) {
                measured.put(embedding.name(), embeddingErrors(w.embedding(), embedding, kept.get(embedding.name()), samples));
            }
            for (Slot s : slots) {
                if (!measured.containsKey(s.name())) {
                    throw new IllegalStateException("no measurement of " + s.name());
                }
            }
            KldProbe kld = new KldProbe(model.decoder(), samples.sequences().subList(0, sequences), samples.ctx());
            Map<String, WeightMatrix> originals = matrices(w);
            int done = 0;
            int total = kept.values().stream().mapToInt(List::size).sum();
            for (Slot s : slots) {
                SensitivityProbe.Measured m = measured.get(s.name());
                WeightMatrix original = originals.get(GgufTensorNames.toHf(s.name()));
                Map<GgmlType, Double> k = new LinkedHashMap<>();
                for (GgmlType t : kept.get(s.name())) {
                    BlockFormat f = BlockFormats.byGgmlType(t.id());
                    WeightMatrix q = new WeightMatrix(original.name(), f, m.rows(), m.cols(), MemorySegment.ofArray(m.bytes().get(t)));
                    k.put(t, kld.kld(original, q));
                    progress.progress("allocation: KLD per tensor", ++done, total, String.format(Locale.ROOT, "%-24s %s", s.name(), t));
                }
                klds.put(s.name(), k);
            }
            notes.accept(String.format(Locale.ROOT, "bit allocation: measured %d KLDs on %d tokens (%d layers)", total, kld.tokens(), layers));
        }
        // expected KLD of every option: measured where it was, else the tensor's error scaled by its measured KLD per error
        List<Allocation.TensorChoice> rows = new ArrayList<>();
        List<List<BitAllocator.Option>> problem = new ArrayList<>();
        for (Slot s : slots) {
            SensitivityProbe.Measured m = measured.get(s.name());
            Map<GgmlType, Double> k = klds.get(s.name());
            double perLoss = 0;
            int n = 0;
            for (Map.Entry<GgmlType, Double> e : k.entrySet()) {
                double loss = m.loss().get(e.getKey());
                if (loss > 0) {
                    perLoss += e.getValue() / loss;
                    n++;
                }
            }
            perLoss = n == 0 ? 0 : perLoss / n;
            List<Allocation.TypeCost> costs = new ArrayList<>();
            List<BitAllocator.Option> opts = new ArrayList<>();
            for (GgmlType t : s.types()) {
                double loss = m.loss().get(t);
                boolean isMeasured = k.containsKey(t);
                double cost = isMeasured ? k.get(t) : perLoss * loss;
                long bytes = aligned(t, s.ne());
                costs.add(new Allocation.TypeCost(t, bytes, loss, cost, isMeasured));
                opts.add(new BitAllocator.Option(t.name(), bytes, cost));
            }
            rows.add(new Allocation.TensorChoice(s.name(), s.weights(), costs, null, s.pinned()));
            problem.add(opts);
        }
        BitAllocator.Solution sol = BitAllocator.solve(problem, request.budget().bytes() - sizes.fixedBytes());
        List<Allocation.TensorChoice> chosen = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            Allocation.TensorChoice r = rows.get(i);
            chosen.add(new Allocation.TensorChoice(r.name(), r.weights(), r.options(), r.options().get(sol.choice()[i]).type(), r.pinned()));
        }
        Allocation a = new Allocation(chosen, request.budget().bytes(), sizes.fixedBytes() + sol.bytes(), sizes.fixedBytes(),
                sizes.weights(), sol.cost(), sol.lowerBound(), label, request.candidates());
        // the file's size, counted from the final plan and metadata: the budget is a promise
        long exact = GgufModelWriter.fileSize(source, apply(options, a));
        if (exact != a.fileBytes() || exact > request.budget().bytes()) {
            throw new IllegalStateException("allocated " + a.fileBytes() + " bytes but the file would be " + exact
                    + " (target " + request.budget().bytes() + ")");
        }
        return a;
    }

    /** {@code options} with the allocation's types (after the user's overrides), file type and metadata. */
    public static GgufModelWriter.Options apply(GgufModelWriter.Options options, Allocation a) {
        List<TensorTypeOverride> all = new ArrayList<>(options.overrides());
        all.addAll(a.overrides());
        return options.withType(a.fileType()).withOverrides(all).withMetadata(merged(options, a.metadata()));
    }

    private static Map<String, dev.qforge.format.GgufValue> merged(GgufModelWriter.Options options, Map<String, dev.qforge.format.GgufValue> more) {
        Map<String, dev.qforge.format.GgufValue> m = new LinkedHashMap<>(options.extraMetadata());
        m.putAll(more);
        return m;
    }

    private static GgufModelWriter.Options pinned(GgufModelWriter.Options options, Map<String, GgmlType> types) {
        List<TensorTypeOverride> all = new ArrayList<>(options.overrides());
        types.forEach((name, t) -> all.add(new TensorTypeOverride(java.util.regex.Pattern.compile("^" + java.util.regex.Pattern.quote(name) + "$"), t)));
        LlamaFileType ftype = options.type().isQuantized() ? options.type() : LlamaFileType.Q8_0;
        return options.withType(ftype).withOverrides(all);
    }

    /** The tensors to place, in file order: every quantizable tensor; a user's override pins it to its type. */
    private static List<Slot> slots(Path source, GgufModelWriter.Options options, List<GgmlType> candidates) {
        GgufModelWriter.Options probe = options.type().isQuantized() ? options : options.withType(LlamaFileType.Q8_0);
        List<Slot> out = new ArrayList<>();
        for (LlamaCppMix.Choice c : GgufModelWriter.plan(source, probe, true)) {
            if (!c.quantized()) {
                continue;
            }
            if (c.overridden()) {
                out.add(new Slot(c.name(), c.ne(), List.of(c.type()), true));
                continue;
            }
            List<GgmlType> types = CandidateTypes.forRow(candidates, c.ne()[0]);
            if (c.name().equals("token_embd.weight")) {
                // the embedding is rounded without importance (its rows are looked up, not multiplied): no lattice types
                types = types.stream().filter(t -> !BlockFormats.byGgmlType(t.id()).needsImportance()).toList();
            }
            if (types.isEmpty()) {
                throw new QforgeException(String.format(Locale.ROOT, "%s: rows of %d weights fit none of the candidate types (%s); add Q8_0 or F16 to --candidates",
                        c.name(), c.ne()[0], String.join(",", candidates.stream().map(Enum::name).toList())));
            }
            out.add(new Slot(c.name(), c.ne(), types, false));
        }
        return out;
    }

    private static String label(Request request, CalibrationSamples samples) {
        return request.sensitivityLabel(Math.min(request.measureSequences(), samples.count()), samples.ctx());
    }

    private static long aligned(GgmlType t, long[] ne) {
        return GgufFile.alignUp(GgufTensorInfo.byteSize(t, ne), GgufFile.DEFAULT_ALIGNMENT);
    }

    /** The candidate nearest in bits per weight to {@code reference} (itself when present). */
    private static GgmlType nearest(List<GgmlType> types, GgmlType reference) {
        if (types.contains(reference)) {
            return reference;
        }
        GgmlType best = types.getFirst();
        for (GgmlType t : types) {
            if (Math.abs(CandidateTypes.bits(t) - CandidateTypes.bits(reference)) < Math.abs(CandidateTypes.bits(best) - CandidateTypes.bits(reference))) {
                best = t;
            }
        }
        return best;
    }

    /** Every weight matrix of the model by Hugging Face name. */
    private static Map<String, WeightMatrix> matrices(DecoderWeights w) {
        Map<String, WeightMatrix> m = new HashMap<>();
        m.put(w.embedding().name(), w.embedding());
        m.put(w.lmHead().name(), w.lmHead());
        for (LayerWeights l : w.layers()) {
            l.matrices().forEach(x -> m.put(x.name(), x));
        }
        return m;
    }

    /**
     * The embedding's error per type: each row's squared rounding error, weighted by how often the calibration text
     * uses that token (a row no token uses cannot move the output). Rounded as the writer rounds it: without importance.
     */
    private static SensitivityProbe.Measured embeddingErrors(WeightMatrix embedding, Slot slot, List<GgmlType> keep,
                                                             CalibrationSamples samples) {
        int rows = embedding.rows();
        int cols = embedding.cols();
        long[] counts = new long[rows];
        for (int[] seq : samples.sequences()) {
            for (int tok : seq) {
                if (tok >= 0 && tok < rows) {
                    counts[tok]++;
                }
            }
        }
        Map<GgmlType, Double> loss = new LinkedHashMap<>();
        Map<GgmlType, byte[]> bytes = new LinkedHashMap<>();
        for (GgmlType t : slot.types()) {
            BlockFormat f = BlockFormats.byGgmlType(t.id());
            long rowBytes = t.rowBytes(cols);
            byte[] out = new byte[Math.toIntExact(rows * rowBytes)];
            MemorySegment seg = MemorySegment.ofArray(out);
            double[] perRow = new double[rows];
            Parallel.forRange(rows, r -> {
                if (counts[r] == 0 && !keep.contains(t)) {
                    return;
                }
                float[] x = new float[cols];
                float[] q = new float[cols];
                embedding.copyRowTo(r, x, 0);
                f.quantize(x, 0, cols, null, seg, r * rowBytes);
                f.dequantize(seg, r * rowBytes, cols, q, 0);
                double s = 0;
                for (int j = 0; j < cols; j++) {
                    double e = x[j] - q[j];
                    s += e * e;
                }
                perRow[r] = s * counts[r];
            });
            double sum = 0;
            for (double v : perRow) {
                sum += v;
            }
            loss.put(t, sum);
            if (keep.contains(t)) {
                bytes.put(t, out);
            }
        }
        return new SensitivityProbe.Measured(slot.name(), rows, cols, loss, bytes);
    }
}
