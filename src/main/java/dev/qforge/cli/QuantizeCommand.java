package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.eval.QuantizationCheck;
import dev.qforge.format.AtomicFile;
import dev.qforge.format.Imatrix;
import dev.qforge.format.ImatrixFile;
import dev.qforge.format.OutputPaths;
import dev.qforge.format.TextFiles;
import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.pipeline.CalibrationSamples;
import dev.qforge.quant.CalibratedQuantization;
import dev.qforge.quant.QuantizeJob;
import dev.qforge.quant.allocation.Allocation;
import dev.qforge.quant.allocation.BitAllocation;
import dev.qforge.quant.awq.AwqSearch;
import dev.qforge.quant.gptq.GptqQuantizer;
import dev.qforge.quant.plan.LlamaCppMix;
import dev.qforge.quant.plan.LlamaFileType;
import dev.qforge.quant.plan.TensorTypeOverride;
import dev.qforge.quant.recipe.Recipe;
import dev.qforge.quant.write.GgufModelWriter;
import dev.qforge.runtime.QModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.Function;

/**
 * {@code qforge quantize}: a Hugging Face model to a llama.cpp GGUF file in one of llama-quantize's mixes,
 * then a quick check of the result against the source model.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true,
        description = {"Quantize a Hugging Face model to a llama.cpp GGUF file (the same bytes llama.cpp's converter and llama-quantize write).",
                "Then checks the result against the source: KL divergence and same-top-token rate on --check-text, and a short greedy generation from both."})
public final class QuantizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR",
            description = "Hugging Face model directory (config.json, tokenizer.json, *.safetensors).")
    Path model;

    @Option(names = {"-t", "--type"}, paramLabel = "TYPE",
            description = "llama.cpp mix: Q2_K, Q2_K_S, Q3_K_S, Q3_K_M, Q3_K_L, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K, Q8_0, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ3_XXS, IQ3_XS, IQ3_S, IQ3_M, IQ4_NL, IQ4_XS, TQ1_0, TQ2_0, F16, BF16, F32 (the IQ1/IQ2 mixes need --imatrix or --calib).")
    String type;

    @Mixin
    AllocationOptions allocationOptions;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "The GGUF file to write.")
    Path out;

    @Option(names = "--imatrix", paramLabel = "FILE", description = "Importance matrix (llama.cpp's imatrix .dat or .gguf).")
    Path imatrix;

    @Option(names = "--tensor-type", paramLabel = "PATTERN=TYPE",
            description = "Give tensors whose GGUF name matches the regex PATTERN the block type TYPE (repeatable; first match wins), e.g. 'attn_v=Q8_0'.")
    List<String> tensorTypes = new ArrayList<>();

    @Option(names = "--calib", paramLabel = "FILE",
            description = "Calibration text (UTF-8): quantize layer by layer on it with --method (default gptq), instead of round-to-nearest.")
    Path calib;

    @Option(names = "--calib-samples", paramLabel = "N",
            description = "Calibration sequences drawn from --calib (default: as many as the text holds, at most " + CalibrationSamples.DEFAULT_SAMPLES + ").")
    Integer calibSamples;

    @Option(names = "--calib-ctx", paramLabel = "L",
            description = "Tokens per calibration sequence (default: " + CalibrationSamples.DEFAULT_CTX + ").")
    Integer calibCtx;

    @Option(names = "--seed", description = "Seed of the calibration draw and of the rotation (default: 0).")
    Long seedOption;

    @Option(names = "--recipe", paramLabel = "FILE",
            description = "A YAML recipe: type, calibration, tensor_types and modifiers (rotation; gptq and rtn with targets/ignore patterns). Flags given as well take precedence.")
    Path recipeFile;

    /** Resolved in call(): flags over the recipe over the defaults. */
    private int samples;
    private int ctx;
    private long seed;
    private Recipe recipe;

    @Option(names = "--method", paramLabel = "METHOD",
            description = {"With --calib: gptq (error feedback onto each format's grid; the default) or rtn (round to nearest with the calibration's importance);",
                    "awq (AWQ's activation-aware scales, then rtn) or awq+gptq (the scales, then gptq). AWQ needs disk for an F32 copy of the model beside the output."})
    String method;

    /** Resolved in call(): whether --method (or the recipe) asks for AWQ's scales first. */
    private AwqSearch.Settings awq;

    @Option(names = "--damp", defaultValue = "0.01",
            description = "GPTQ damping, a fraction of the Hessian's mean diagonal (default: ${DEFAULT-VALUE}; raised by itself when needed).")
    double damp;

    @Option(names = "--act-order", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = {"GPTQ sweeps the columns by decreasing input energy (desc_act), with every block's scales chosen first",
                    "(static groups). On by default: lower KLD at every type measured (docs/QUALITY.md); --no-act-order sweeps left to right."})
    boolean actOrder;

    @Option(names = "--resume", description = "Continue an interrupted calibrated run from its last finished layer (its state is in OUT.resume).")
    boolean resume;

    @Option(names = "--rotate", negatable = true, description = {"Rotate the model first (randomized Hadamard of the residual stream and of each head's values, norms folded; QuaRot/SpinQuant's foldable rotations): same function, weights that quantize better. With --seed.",
            "Off by default (docs/QUALITY.md: a gain on in-domain text, none on other text). A model that ties its embeddings is untied (a larger file). Needs disk for an F32 copy of the model beside the output."})
    Boolean rotateOption;

    /** Resolved in call(). */
    private boolean rotate;

    @Option(names = "--fp-inputs", description = "Calibrate each layer on the full-precision model's activations instead of the quantized layers' before it.")
    boolean fpInputs;

    @Option(names = "--name", description = "general.name of the file (default: the model directory's name).")
    String name;

    @Option(names = "--check-text", paramLabel = "FILE",
            description = "UTF-8 text for the check's KL divergence and same-top rate (e.g. wiki.test.raw); without it only the generation is compared.")
    Path checkText;

    @Option(names = "--check-chunks", defaultValue = "8", description = "Chunks of --check-text to score (default: ${DEFAULT-VALUE}).")
    int checkChunks;

    @Option(names = "--check-ctx", defaultValue = "512", description = "Chunk length in tokens (default: ${DEFAULT-VALUE}, at most the model's context).")
    int checkCtx;

    @Option(names = "--check-prompt", defaultValue = "Once upon a time", description = "Prompt of the greedy generation (default: '${DEFAULT-VALUE}').")
    String checkPrompt;

    @Option(names = "--check-tokens", defaultValue = "32", description = "Tokens to generate (default: ${DEFAULT-VALUE}).")
    int checkTokens;

    @Option(names = "--no-check", description = "Skip the check.")
    boolean noCheck;

    @Option(names = "--report", paramLabel = "DIR",
            description = "Also write DIR/report.html: the check's KLD at the file's size, the bit allocation (with --target-*), the command (needs --check-text).")
    Path reportDir;

    @Override
    public Integer call() {
        Main.calibrationMatmul();
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        recipe = recipeFile == null ? null : Recipe.read(recipeFile);
        if (recipe != null) {
            if (method != null) {
                throw new QforgeException("--method and --recipe: choose the methods in the recipe or with --method, not both");
            }
            if (type == null) {
                type = recipe.type();
            }
            if (calib == null && recipe.calibration() != null) {
                calib = recipe.calibration().text();
            }
            Recipe.Calibration rc = recipe.calibration();
            if (rc != null) {
                calibSamples = calibSamples != null ? calibSamples : rc.samples();
                calibCtx = calibCtx != null ? calibCtx : rc.ctx();
                seedOption = seedOption != null ? seedOption : rc.seed();
                fpInputs = fpInputs || Boolean.TRUE.equals(rc.fpInputs());
            }
            if (recipe.rotation() != null) {
                rotateOption = rotateOption == null || rotateOption;
                seedOption = seedOption != null ? seedOption : recipe.rotation().seed();
            }
            List<String> all = new ArrayList<>(tensorTypes);
            all.addAll(recipe.tensorTypes());
            tensorTypes = all;
            if (!recipe.methods().isEmpty() && calib == null) {
                throw new QforgeException(recipeFile + ": its methods need a calibration text (calibration.text, or --calib FILE)");
            }
        }
        boolean allocating = allocationOptions.requested();
        allocationOptions.validate(type, calib, imatrix);
        if (allocating) {
            type = "Q8_0"; // a placeholder: every quantized tensor's type comes from the allocation
        }
        if (type == null) {
            throw new QforgeException("no type: give -t TYPE (e.g. Q4_K_M), or --target-size / --target-bpw" + (recipe != null ? " or type: in the recipe" : ""));
        }
        samples = calibSamples != null ? calibSamples : 0;
        ctx = calibCtx != null ? calibCtx : CalibrationSamples.DEFAULT_CTX;
        seed = seedOption != null ? seedOption : 0;
        LlamaFileType ftype = LlamaFileType.parse(type);
        List<TensorTypeOverride> overrides = tensorTypes.stream().map(TensorTypeOverride::parse).toList();
        if (checkChunks < 1) {
            throw new QforgeException("--check-chunks must be >= 1, not " + checkChunks);
        }
        if (checkCtx < 8) {
            throw new QforgeException("--check-ctx must be >= 8, not " + checkCtx);
        }
        if (reportDir != null && (noCheck || checkText == null)) {
            throw new QforgeException("--report shows the check's KL divergence: give --check-text FILE (and not --no-check)");
        }
        ReportPage.checkDir(reportDir);
        if (checkTokens < 1) {
            throw new QforgeException("--check-tokens must be >= 1, not " + checkTokens);
        }
        if (!Files.isDirectory(model)) {
            throw new QforgeException(model + ": not a Hugging Face model directory (quantize reads config.json, tokenizer.json and safetensors)");
        }
        if (Files.isDirectory(out)) {
            throw new QforgeException(out + ": is a directory; --out names the GGUF file to write");
        }
        OutputPaths.refuseInputs(out, "-o", java.util.Arrays.asList(model, imatrix, calib, checkText, recipeFile));
        OutputPaths.refuseInputs(checkFile(out), "-o (its .check.json)", java.util.Arrays.asList(model, imatrix, calib, checkText, recipeFile));
        OutputPaths.refuseInputs(allocationFile(out), "-o (its .allocation.json)", java.util.Arrays.asList(model, imatrix, calib, checkText, recipeFile));
        if (checkText != null && !Files.isRegularFile(checkText)) {
            throw new QforgeException(checkText + ": no such file (--check-text)");
        }
        Imatrix im = imatrix == null ? null : ImatrixFile.read(imatrix);
        if (im != null && im.entries().isEmpty()) {
            throw new QforgeException(imatrix + ": the imatrix has no entries");
        }

        if (calib != null && im != null) {
            throw new QforgeException("--calib and --imatrix are alternatives: the calibration text gives the importance itself");
        }
        if (method != null && calib == null) {
            throw new QforgeException("--method " + method + " needs a calibration text (--calib FILE)");
        }
        CalibratedQuantization.Method m = CalibratedQuantization.Method.GPTQ;
        if (method != null) {
            // "awq" alone is AWQ's own recipe (scales, then rounding); "awq+gptq" (either order) adds GPTQ after the scales
            List<String> parts = new ArrayList<>(java.util.Arrays.asList(method.toLowerCase(Locale.ROOT).split("\\+", -1)));
            if (parts.remove("awq")) {
                awq = AwqSearch.Settings.DEFAULT;
                m = parts.isEmpty() ? CalibratedQuantization.Method.RTN : null;
            }
            if (parts.size() > 1 || parts.contains("awq")) {
                throw new QforgeException("unknown method '" + method + "'; known: gptq, rtn, awq, awq+gptq, awq+rtn");
            }
            if (!parts.isEmpty()) {
                m = CalibratedQuantization.Method.parse(parts.get(0));
            }
        }
        if (recipe != null && recipe.awq() != null) {
            awq = recipe.awq();
        }
        CalibratedQuantization.Method chosen = m;
        GptqQuantizer.Settings gptq = new GptqQuantizer.Settings(damp, GptqQuantizer.Settings.DEFAULT.dampRaises(), actOrder);
        if (calib != null && !Files.isRegularFile(calib)) {
            throw new QforgeException(calib + ": no such file (--calib)");
        }

        GgufModelWriter.Options options = GgufModelWriter.Options.of(ftype)
                .withImatrix(im, imatrix == null ? null : imatrix.getFileName().toString())
                .withOverrides(overrides).withName(name);
        if (resume && calib == null) {
            throw new QforgeException("--resume continues a calibrated run: give the same --calib and options as the interrupted run");
        }
        // Rotation is opt-in: with GPTQ it lowered KLD on WikiText (3–13 % under 5 bits, most for Q4_K_M) but not on
        // TinyStories (−0.2 % to +5 %), and it costs an F32 copy of the model on disk (docs/QUALITY.md).
        rotate = rotateOption != null && rotateOption;
        if (rotate && tiedEmbeddings()) {
            err.println("note: the model ties its embeddings; rotating unties them, so the file gets a separate output.weight");
        }
        if (awq != null && calib == null) {
            throw new QforgeException("AWQ needs a calibration text (--calib FILE)");
        }
        if (rotate && im != null) {
            throw new QforgeException("--rotate with --imatrix: the imatrix belongs to the unrotated model; give --calib instead");
        }
        if (recipe != null && !recipe.methods().isEmpty()) {
            // every pattern must name a tensor: checked on the model's names before any work
            recipe.requireEveryPatternMatches(QuantizeJob.calibratedNames(GgufModelWriter.plan(model, options, true)));
        }
        QuantizeJob.Calibration calibration = null;
        if (calib != null) {
            boolean byRecipe = recipe != null && !recipe.methods().isEmpty();
            Function<List<LlamaCppMix.Choice>, CalibratedQuantization.MethodChoice> methods = byRecipe
                    ? plan -> recipe.methodChoice(plan, gptq, err::println)
                    : plan -> name -> new CalibratedQuantization.Assignment(chosen, gptq);
            calibration = new QuantizeJob.Calibration(calib, samples, ctx, seed, fpInputs, resume, methods,
                    byRecipe ? recipe.methodLabel() : m.label(), settings(ftype, m));
        }
        BitAllocation.Request allocation = null;
        if (allocating) {
            allocation = allocationOptions.request(modelWeights(), gptq);
        }
        Allocation[] allocated = {null};
        ProgressBar[] bar = {null};
        String[] stage = {null};
        GgufModelWriter.Result r = QuantizeJob.run(new QuantizeJob.Spec(model, out, options, calibration, rotate, seed, awq, allocation),
                new QuantizeJob.Reporter() {
                    @Override
                    public void note(String line) {
                        err.println(line);
                    }

                    @Override
                    public void progress(String name, int done, int total, String detail) {
                        if (!name.equals(stage[0])) {
                            stage[0] = name;
                            bar[0] = new ProgressBar(err, name, total);
                        }
                        bar[0].update(done, detail);
                    }

                    @Override
                    public void allocated(Allocation a) {
                        allocated[0] = a;
                        if (allocationOptions.explain) {
                            stdout.print(a.explain());
                            stdout.flush();
                        }
                    }
                });
        summary(stdout, err, r, im);
        if (allocated[0] != null) {
            Allocation a = allocated[0];
            stdout.printf(Locale.ROOT, "allocation: %,d of %,d bytes, expected KLD %.6f (lower bound %.6f); choices and measurements in %s%n",
                    a.fileBytes(), a.targetBytes(), a.predictedKld(), a.lowerBound(), allocationFile(out));
            var json = a.toJson();
            json.put("command", "qforge " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
            AtomicFile.write(allocationFile(out), o -> o.write((json.toPrettyString() + "\n").getBytes(StandardCharsets.UTF_8)));
        }

        if (noCheck) {
            return 0;
        }
        QuantizationCheck.Report report = check(err);
        print(stdout, report);
        Path json = checkFile(out);
        AtomicFile.write(json, o -> o.write((report.toJson().toPrettyString() + "\n").getBytes(StandardCharsets.UTF_8)));
        stdout.println("check written to " + json);
        warnIfBroken(err, report);
        if (reportDir != null && report.text() != null) {
            writeReport(stdout, r, report, allocated[0]);
        }
        return 0;
    }

    /** DIR/report.html: this file at its size with the check's measures, its allocation, and the command. */
    private void writeReport(PrintWriter stdout, GgufModelWriter.Result r, QuantizationCheck.Report check, Allocation a) {
        var k = check.text().kld();
        String label = out.getFileName().toString();
        var m = new dev.qforge.eval.report.Measurement(label, "qforge", "qforge (check)", r.fileBytes(), 8.0 * r.fileBytes() / modelWeights(),
                k.pplModel().value(), k.pplModel().error(), k.kld().value(), k.kld().error(), k.sameTop().value());
        java.util.Map<String, com.fasterxml.jackson.databind.JsonNode> allocations = new java.util.LinkedHashMap<>();
        if (a != null) {
            allocations.put(label, a.toJson());
        }
        String command = "qforge " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        var page = new dev.qforge.eval.report.QualityReport(label + ": quantization report",
                String.format(Locale.ROOT, "%s quantized from %s; measured on %d chunks of %d tokens of %s.", label, model,
                        check.text().chunks(), check.text().ctx(), checkText.getFileName()),
                List.of(m), allocations, List.of(command));
        stdout.println("report written to " + ReportPage.write(reportDir, page));
    }

    /** The weights of the model's checkpoint: what --target-bpw counts bits over. */
    private long modelWeights() {
        return dev.qforge.format.SafetensorsCheckpoint.elementCount(model);
    }

    /** Where an allocation's measurements are kept: beside the file, {@code <file>.allocation.json}. */
    static Path allocationFile(Path gguf) {
        return gguf.resolveSibling(gguf.getFileName() + ".allocation.json");
    }

    private boolean tiedEmbeddings() {
        return dev.qforge.model.HfConfigFile.read(model.resolve("config.json")).tieWordEmbeddings();
    }

    /** What the run is asked, as text: a resumed run must be asked the same. */
    private String settings(LlamaFileType ftype, CalibratedQuantization.Method m) {
        long weights = dev.qforge.format.SafetensorsCheckpoint.fileBytes(model);
        long calibBytes;
        try {
            calibBytes = Files.size(calib);
        } catch (java.io.IOException e) {
            throw new QforgeException(calib + ": cannot read: " + e.getMessage(), e);
        }
        return String.format(Locale.ROOT, "model %s (%d bytes of weights), type %s, %s, overrides %s, calib %s (%d bytes), samples %d, ctx %d, seed %d, method %s, damp %s, act-order %s, fp-inputs %s, rotate %s, awq %s",
                model.toAbsolutePath().normalize(), weights, allocationOptions.requested() ? "allocation" : ftype,
                allocationOptions.fingerprint(), tensorTypes, calib.toAbsolutePath().normalize(), calibBytes,
                samples, ctx, seed, recipe != null ? "recipe " + recipe.source().toAbsolutePath() + " " + recipe.hashCode() : m.label(), damp, actOrder, fpInputs, rotate, awq);
    }

    /** The loud warning for a result that looks broken (nothing when it does not). */
    static void warnIfBroken(PrintWriter err, QuantizationCheck.Report report) {
        if (!report.looksBroken()) {
            return;
        }
        String bar = "!".repeat(72);
        err.println();
        err.println(bar);
        err.println("!!! WARNING: THE QUANTIZED MODEL LOOKS BROKEN");
        for (String p : report.problems()) {
            err.println("!!!   " + p);
        }
        err.println("!!! Try a type with more bits, an --imatrix, or fewer --tensor-type overrides.");
        err.println(bar);
        err.flush();
    }

    /** Where the check of {@code gguf} is stored: beside it, {@code <file>.check.json}. */
    static Path checkFile(Path gguf) {
        return gguf.resolveSibling(gguf.getFileName() + ".check.json");
    }

    private void summary(PrintWriter stdout, PrintWriter err, GgufModelWriter.Result r, Imatrix im) {
        Map<GgmlType, Integer> counts = new TreeMap<>();
        int fallbacks = 0;
        int withImatrix = 0;
        for (LlamaCppMix.Choice c : r.choices()) {
            counts.merge(c.type(), 1, Integer::sum);
            if (c.fallbackFrom() != null) {
                fallbacks++;
                err.printf(Locale.ROOT, "note: %s: rows of %d are not a multiple of %d; %s instead of %s (as llama.cpp)%n",
                        c.name(), c.ne()[0], c.fallbackFrom().blockSize(), c.type(), c.fallbackFrom());
            }
            if (im != null && c.quantized() && im.contains(c.name())) {
                withImatrix++;
            }
        }
        List<String> mix = new ArrayList<>();
        counts.forEach((t, n) -> mix.add(t + " x" + n));
        stdout.printf(Locale.ROOT, "wrote %s: %s, %.2f bits per weight (%,d weights), %d tensors (%s), %.1f s%n",
                r.file(), Sizes.format(r.fileBytes()), r.bitsPerWeight(), r.weights(), r.choices().size(),
                String.join(", ", mix), r.seconds());
        if (im != null) {
            stdout.printf(Locale.ROOT, "imatrix: %d of %d quantized tensors weighted by %s%n", withImatrix,
                    r.choices().stream().filter(LlamaCppMix.Choice::quantized).count(), imatrix);
            if (withImatrix == 0) {
                err.println("qforge: warning: the imatrix has no entry for any tensor of this model (an imatrix of another model?)");
            }
        }
        if (fallbacks > 0) {
            stdout.printf(Locale.ROOT, "%d tensors fell back to another type (rows not a whole number of blocks)%n", fallbacks);
        }
    }

    private QuantizationCheck.Report check(PrintWriter err) {
        try (QModel base = QModel.load(model); QModel quant = QModel.load(out, model)) {
            QuantizationCheck.TextResult text = null;
            if (checkText == null) {
                err.println("note: no --check-text given: skipping the KL-divergence check (only the greedy generation is compared)");
            } else {
                err.printf(Locale.ROOT, "checking against the source model on %d chunks of %s ...%n", checkChunks, checkText);
                text = QuantizationCheck.text(base, quant, TextFiles.readUtf8(checkText), checkChunks, checkCtx);
                if (text == null) {
                    err.println("note: " + checkText + " is shorter than one chunk; skipping the KL-divergence check");
                }
            }
            QuantizationCheck.GenerationResult gen = QuantizationCheck.generation(base, quant, checkPrompt, checkTokens);
            return QuantizationCheck.report(text, gen);
        }
    }

    private static void print(PrintWriter stdout, QuantizationCheck.Report report) {
        if (report.text() != null) {
            var k = report.text().kld();
            stdout.printf(Locale.ROOT, "check: mean KLD %.5f ± %.5f, same top token %.2f %% ± %.2f %%, PPL %.4f → %.4f (%d chunks of %d)%n",
                    k.kld().value(), k.kld().error(), 100 * k.sameTop().value(), 100 * k.sameTop().error(),
                    k.pplBase().value(), k.pplModel().value(), report.text().chunks(), report.text().ctx());
        }
        var g = report.generation();
        if (g != null) {
            stdout.printf(Locale.ROOT, "source:    %s%s%n", g.prompt(), g.base().replace("\n", "\\n"));
            stdout.printf(Locale.ROOT, "quantized: %s%s%n", g.prompt(), g.quantized().replace("\n", "\\n"));
            stdout.printf(Locale.ROOT, "greedy generations agree on the first %d of %d tokens%n", g.commonPrefix(), g.baseIds().length);
        }
    }
}
