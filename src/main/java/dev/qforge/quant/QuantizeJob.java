package dev.qforge.quant;

import dev.qforge.format.GgufTensorNames;
import dev.qforge.format.PartialFiles;
import dev.qforge.format.TextFiles;
import dev.qforge.kernel.FmaPeak;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.pipeline.CalibrationSamples;
import dev.qforge.pipeline.LayerwiseCalibration;
import dev.qforge.quant.allocation.Allocation;
import dev.qforge.quant.allocation.BitAllocation;
import dev.qforge.quant.awq.AwqScales;
import dev.qforge.quant.awq.AwqSearch;
import dev.qforge.quant.gptq.GptqWork;
import dev.qforge.quant.plan.LlamaCppMix;
import dev.qforge.quant.rotation.ModelRotation;
import dev.qforge.quant.write.GgufModelWriter;
import dev.qforge.runtime.QModel;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * One quantization job, its stages in order: the plan (llama.cpp's mix with overrides), an optional rotation
 * of the model (written beside the output, removed after), the layer-by-layer calibration with each tensor's
 * method (its quantized tensors kept in the run's state, so an interrupted run can resume), and the GGUF
 * writer, which copies the calibrated tensors in and rounds the others. Without a calibration it is the
 * plain llama-quantize path. The command line only parses options into a {@link Spec} and prints.
 */
public final class QuantizeJob {
    /** How the job talks to its user: notes and progress, one line each. */
    public interface Reporter {
        void note(String line);

        /** A stage's progress: {@code done} of {@code total}. */
        void progress(String stage, int done, int total, String detail);

        /** A bit allocation's result, before the quantization it plans. */
        default void allocated(Allocation allocation) {
        }
    }

    /**
     * A calibrated run's settings.
     *
     * @param methods      each tensor's method, given the plan (GGUF names)
     * @param methodLabel  what the file's metadata records of the methods
     * @param fingerprint  what the run is asked, as text: a resumed run must be asked the same
     */
    public record Calibration(Path text, int samples, int ctx, long seed, boolean fpInputs, boolean resume,
                              Function<List<LlamaCppMix.Choice>, CalibratedQuantization.MethodChoice> methods,
                              String methodLabel, String fingerprint) {
    }

    /**
     * @param calibration null for llama.cpp's round-to-nearest (with the options' imatrix, if any)
     * @param rotate      rotate the model first, with {@code rotationSeed}
     * @param awq         AWQ's scale search before the methods (after the rotation), or null
     * @param allocation  a measured bit allocation in place of the mix's rules (after the rotation), or null
     */
    public record Spec(Path model, Path out, GgufModelWriter.Options options, Calibration calibration, boolean rotate,
                       long rotationSeed, AwqSearch.Settings awq, BitAllocation.Request allocation) {
        public Spec {
            if (awq != null && calibration == null) {
                throw new dev.qforge.QforgeException("AWQ needs a calibration text (--calib FILE)");
            }
            if (allocation != null && calibration == null) {
                throw new dev.qforge.QforgeException("a bit allocation (--target-size, --target-bpw) measures on a calibration text: give --calib FILE");
            }
        }

        public Spec(Path model, Path out, GgufModelWriter.Options options, Calibration calibration, boolean rotate,
                    long rotationSeed, AwqSearch.Settings awq) {
            this(model, out, options, calibration, rotate, rotationSeed, awq, null);
        }

        public Spec(Path model, Path out, GgufModelWriter.Options options, Calibration calibration, boolean rotate,
                    long rotationSeed) {
            this(model, out, options, calibration, rotate, rotationSeed, null, null);
        }
    }

    private QuantizeJob() {
    }

    /** The tensors a calibration quantizes: every linear of the layers and the LM head, by GGUF name. */
    public static List<String> calibratedNames(List<LlamaCppMix.Choice> plan) {
        return plan.stream().map(LlamaCppMix.Choice::name)
                .filter(n -> (n.startsWith("blk.") && n.endsWith(".weight") && !n.contains("_norm")) || n.equals("output.weight"))
                .toList();
    }

    /** Runs the job; the output appears only when complete. */
    public static GgufModelWriter.Result run(Spec spec, Reporter reporter) {
        GgufModelWriter.Options options = spec.options();
        if ((spec.rotate() || spec.awq() != null) && options.name() == null) {
            options = options.withName(GgufModelWriter.modelName(spec.model()));
        }
        Calibration cal = spec.calibration();
        CalibrationSamples samples = null;
        CalibrationState state = null;
        if (cal != null) {
            // drawn with the source model's tokenizer (a rotation keeps it) before any work, so a short text fails first
            try (QModel m = QModel.load(spec.model())) {
                samples = CalibrationSamples.of(cal.text(), TextFiles.readUtf8(cal.text()), m.tokenizer(), m.bosToken(),
                        cal.samples(), cal.ctx(), cal.seed());
            }
            if (spec.allocation() == null) {
                List<LlamaCppMix.Choice> plan = GgufModelWriter.plan(spec.model(), options, true);
                java.util.Set<String> calibrated = new java.util.HashSet<>(calibratedNames(plan));
                GgufModelWriter.requireImportance(plan, options, calibrated::contains);
            } else {
                // the budget is checked before anything is rotated or measured
                BitAllocation.checkBudget(spec.model(), labelled(options, spec, samples), spec.allocation(), samples);
            }
            state = cal.resume() ? CalibrationState.resume(spec.out(), cal.fingerprint())
                    : CalibrationState.start(spec.out(), cal.fingerprint());
        }
        Path rotated = null;
        Path scaled = null;
        try {
            Path source = spec.model();
            if (spec.rotate()) {
                rotated = PartialFiles.partialPath(spec.out().resolveSibling(spec.out().getFileName() + ".rotated"));
                PartialFiles.begin(rotated);
                reporter.note(String.format(Locale.ROOT, "rotating %s (seed %d) ...", spec.model(), spec.rotationSeed()));
                ModelRotation.write(spec.model(), rotated, spec.rotationSeed());
                source = rotated;
            }
            if (spec.allocation() != null) {
                Allocation a = BitAllocation.run(source, labelled(options, spec, samples), samples, spec.allocation(),
                        reporter::note, reporter::progress);
                reporter.allocated(a);
                options = BitAllocation.apply(options, a);
                // a --tensor-type the allocation kept may still name a lattice type where no importance reaches
                List<LlamaCppMix.Choice> plan = GgufModelWriter.plan(source, options, true);
                java.util.Set<String> calibrated = new java.util.HashSet<>(calibratedNames(plan));
                GgufModelWriter.requireImportance(plan, options, calibrated::contains);
            }
            if (spec.awq() != null) {
                scaled = PartialFiles.partialPath(spec.out().resolveSibling(spec.out().getFileName() + ".awq"));
                PartialFiles.begin(scaled);
                AwqScales scales = searchAwq(source, options, samples, spec.awq(), reporter);
                reporter.note("AWQ: writing the scaled model ...");
                scales.write(source, scaled);
                source = scaled;
            }
            if (state != null) {
                options = options.withCalibrated(calibrate(source, options, cal, samples, state, transforms(spec), reporter));
            }
            String type = options.type().toString();
            GgufModelWriter.Result r = GgufModelWriter.write(source, spec.out(), options, (done, total, choice, bytes) ->
                    reporter.progress("quantize " + type, done, total,
                            String.format(Locale.ROOT, "%-28s %-6s", choice.name(), choice.type())));
            if (state != null) {
                state.finish();
            }
            return r;
        } catch (RuntimeException | Error e) {
            if (state != null && state.layersDone() == 0) {
                state.finish();
            } else if (state != null) {
                state.close();
                reporter.note("qforge: the finished layers are kept in " + state.folder() + "; --resume continues from there");
            }
            throw e;
        } finally {
            for (Path p : new Path[]{rotated, scaled}) {
                if (p != null) {
                    PartialFiles.deleteTree(p);
                    PartialFiles.end(p);
                }
            }
        }
    }

    /** The transforms a calibrated file's method label starts with. */
    private static String transforms(Spec spec) {
        return (spec.rotate() ? "rotation+" : "") + (spec.awq() != null ? "awq+" : "");
    }

    /**
     * {@code options} with a calibration's label but no tensors yet: what the file's metadata will say, so a size
     * counted from it is the written file's.
     */
    private static GgufModelWriter.Options labelled(GgufModelWriter.Options options, Spec spec, CalibrationSamples samples) {
        Calibration cal = spec.calibration();
        return options.withCalibrated(new GgufModelWriter.Calibrated(Map.of(), transforms(spec) + cal.methodLabel(),
                cal.text().getFileName().toString(), samples.count(), samples.ctx()));
    }

    /**
     * AWQ's search: the full-precision model run layer by layer over the calibration samples, each group's
     * scales chosen against the planned formats. A resumed run searches again (it is deterministic), so the
     * scaled model it continues on is the one the interrupted run used.
     */
    private static AwqScales searchAwq(Path source, GgufModelWriter.Options options, CalibrationSamples samples,
                                       AwqSearch.Settings settings, Reporter reporter) {
        Map<String, BlockFormat> formats = new HashMap<>();
        for (LlamaCppMix.Choice c : GgufModelWriter.plan(source, options, true)) {
            formats.put(c.name(), BlockFormats.byGgmlType(c.type().id()));
        }
        try (QModel model = QModel.load(source)) {
            int layers = model.config().numLayers();
            reporter.note(String.format(Locale.ROOT, "AWQ: searching scales (%d-point grid) on %d samples of %d tokens ...",
                    settings.grid(), samples.count(), samples.ctx()));
            // per group: Σα, Σ relative error, count
            Map<String, double[]> groups = new java.util.LinkedHashMap<>();
            AwqSearch search = new AwqSearch(model.config(), hf -> {
                String gguf = GgufTensorNames.toGguf(hf);
                return gguf == null ? null : formats.get(gguf);
            }, settings, (layer, group, alpha, relative) -> {
                double[] g = groups.computeIfAbsent(group, k -> new double[3]);
                g[0] += alpha;
                g[1] += relative;
                g[2]++;
            });
            long t0 = System.nanoTime();
            new LayerwiseCalibration(model.decoder(), true).run(samples, search, (layer, all, seconds) -> {
                double elapsed = (System.nanoTime() - t0) / 1e9;
                reporter.progress("AWQ search", layer + 1, all, String.format(Locale.ROOT, "layer %d/%d %.1f s, ETA %.0f s",
                        layer + 1, all, seconds, elapsed / (layer + 1) * (all - layer - 1)));
            });
            StringBuilder b = new StringBuilder();
            groups.forEach((g, v) -> b.append(String.format(Locale.ROOT, "; %s: mean α %.2f, output error %.3f× unscaled",
                    g, v[0] / v[2], v[1] / v[2])));
            reporter.note(String.format(Locale.ROOT, "AWQ: %d layers in %.1f s%s", layers, (System.nanoTime() - t0) / 1e9, b));
            return search.scales();
        }
    }

    /** Progress units per layer of the calibration, so that the bar moves within a layer too. */
    private static final int PER_LAYER = 100;

    /** Runs the layer-by-layer calibration and returns the quantized tensors for the writer. */
    private static GgufModelWriter.Calibrated calibrate(Path source, GgufModelWriter.Options options, Calibration cal,
                                                        CalibrationSamples samples, CalibrationState state, String transforms,
                                                        Reporter reporter) {
        List<LlamaCppMix.Choice> plan = GgufModelWriter.plan(source, options, true);
        CalibratedQuantization.MethodChoice choice = cal.methods().apply(plan);
        try (QModel model = QModel.load(source)) {
            int layers = model.config().numLayers();
            reporter.note(String.format(Locale.ROOT, "calibration: %d samples of %d tokens from %s (%d available, seed %d), method %s%s",
                    samples.count(), samples.ctx(), cal.text(), samples.available(), cal.seed(), cal.methodLabel(),
                    cal.fpInputs() ? ", full-precision inputs" : ""));
            CalibratedQuantization q = new CalibratedQuantization(plan, choice, state,
                    w -> reporter.note("qforge: warning: " + w), null);
            if (state.layersDone() > 0) {
                reporter.note(String.format(Locale.ROOT, "resuming: %d of %d layers were quantized by the interrupted run",
                        Math.min(state.layersDone(), layers), layers));
            }
            Thread notice = new Thread(() -> System.err.println("\nqforge: interrupted; the finished layers are kept in "
                    + state.folder() + ": run again with --resume to continue"));
            Runtime.getRuntime().addShutdownHook(notice);
            GptqWork.TOTAL.reset();
            long t0 = System.nanoTime();
            try {
                String stage = "calibrate " + cal.methodLabel();
                q.run(model.decoder(), samples, cal.fpInputs(), new LayerwiseCalibration.Listener() {
                    @Override
                    public void layerDone(int layer, int all, double seconds) {
                        reporter.progress(stage, (layer + 1) * PER_LAYER, all * PER_LAYER,
                                String.format(Locale.ROOT, "(layers × %d) layer %d/%d done in %.1f s", PER_LAYER, layer + 1, all, seconds));
                    }

                    @Override
                    public void sequencesDone(int layer, int all, int done, int total) {
                        // the passes are most of a layer's time; quantizing it is the last tenth of its share
                        reporter.progress(stage, layer * PER_LAYER + (int) (0.9 * PER_LAYER * done / total), all * PER_LAYER,
                                String.format(Locale.ROOT, "(layers × %d) layer %d/%d: sequence runs %d/%d", PER_LAYER,
                                        layer + 1, all, done, total));
                    }
                });
            } finally {
                // the notice is for a stopped process, not for an error (the caller reports that)
                Runtime.getRuntime().removeShutdownHook(notice);
            }
            reporter.note(String.format(Locale.ROOT, "calibration: %.1f s; %s; FMA peak measured now: %.0f GFLOP/s (%d threads)",
                    (System.nanoTime() - t0) / 1e9, GptqWork.TOTAL.summary(), FmaPeak.measureGflops(), Parallel.threads()));
            return new GgufModelWriter.Calibrated(q.tensors(), transforms + cal.methodLabel(),
                    cal.text().getFileName().toString(), samples.count(), samples.ctx());
        }
    }
}
