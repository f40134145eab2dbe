package dev.qforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qforge.QforgeException;
import dev.qforge.eval.BaseLogProbs;
import dev.qforge.eval.KlDivergence;
import dev.qforge.eval.KlDivergenceRun;
import dev.qforge.eval.PerplexityProtocol;
import dev.qforge.eval.PerplexityRun;
import dev.qforge.eval.report.Measurement;
import dev.qforge.eval.report.QualityReport;
import dev.qforge.eval.report.ResultsFile;
import dev.qforge.format.AtomicFile;
import dev.qforge.format.JsonFiles;
import dev.qforge.format.OutputPaths;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.format.TextFiles;
import dev.qforge.runtime.QModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code qforge report}: one self-contained HTML page of the KL-divergence-versus-size front — GGUF files measured
 * here against the model, results measured by llama.cpp, and the bit allocations behind qforge's files.
 */
@Command(name = "report", mixinStandardHelpOptions = true,
        description = {"Write one self-contained HTML page (inline SVG, no network needed) of the KL divergence against size of",
                "quantized files: GGUF files measured here, and results measured by llama.cpp; with each file's bit allocation."})
public final class ReportCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR",
            description = "The full-precision Hugging Face model: its weights count the bits per weight, its outputs are the KLD's base.")
    Path model;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "The HTML file to write.")
    Path out;

    @Parameters(paramLabel = "GGUF", arity = "0..*", description = "GGUF files to measure here (each one's FILE.allocation.json is shown when it exists).")
    List<Path> files = new ArrayList<>();

    @Option(names = "--text", paramLabel = "FILE", description = "Text to measure the GGUF files on (llama.cpp's protocol: chunks of --ctx, second half scored).")
    Path text;

    @Option(names = "--chunks", defaultValue = "20", description = "Chunks of --text (default: ${DEFAULT-VALUE}).")
    int chunks;

    @Option(names = "--ctx", defaultValue = "512", description = "Chunk length (default: ${DEFAULT-VALUE}).")
    int ctx;

    @Option(names = "--llama-cpp", paramLabel = "JSON",
            description = "llama.cpp's own results, as reference/…/llama.cpp-results.json holds them (label: {bytes, kld, kld_err, ppl, ppl_err, same_top_p_pct}).")
    Path llamaCpp;

    @Option(names = "--judged", paramLabel = "JSON",
            description = "qforge files measured by llama.cpp's llama-perplexity, in the same form (series qforge).")
    Path judged;

    @Option(names = "--allocation", paramLabel = "JSON", description = "A bit allocation's .allocation.json to show (repeatable).")
    List<Path> allocationFiles = new ArrayList<>();

    @Option(names = "--title", description = "The page's title (default: the model's name and 'quantization report').")
    String title;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        if (!Files.isDirectory(model)) {
            throw new QforgeException(model + ": not a Hugging Face model directory (-m)");
        }
        if (!files.isEmpty() && text == null) {
            throw new QforgeException("measuring GGUF files needs a text: give --text FILE");
        }
        if (chunks < 1) {
            throw new QforgeException("--chunks must be >= 1, not " + chunks);
        }
        if (files.isEmpty() && llamaCpp == null && judged == null) {
            throw new QforgeException("nothing to report: give GGUF files, --llama-cpp JSON or --judged JSON");
        }
        List<Path> inputs = new ArrayList<>(files);
        inputs.add(model);
        inputs.add(text);
        inputs.add(llamaCpp);
        inputs.add(judged);
        inputs.addAll(allocationFiles);
        OutputPaths.refuseInputs(out, "-o", inputs);
        long weights = SafetensorsCheckpoint.elementCount(model);
        List<Measurement> measurements = new ArrayList<>();
        Map<String, JsonNode> allocations = new LinkedHashMap<>();
        List<String> commands = new ArrayList<>();
        commands.add("qforge " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
        if (llamaCpp != null) {
            measurements.addAll(ResultsFile.read(llamaCpp, "llama.cpp", "llama.cpp", weights));
        }
        if (judged != null) {
            measurements.addAll(ResultsFile.read(judged, "qforge", "llama.cpp", weights));
        }
        for (Path a : allocationFiles) {
            addAllocation(allocations, commands, a.getFileName().toString().replaceFirst("\\.allocation\\.json$", ""), a);
        }
        if (!files.isEmpty()) {
            measure(measurements, allocations, commands, weights, err);
        }
        String name = dev.qforge.quant.write.GgufModelWriter.modelName(model);
        QualityReport report = new QualityReport(title != null ? title : name + ": quantization report",
                String.format(Locale.ROOT, "Model %s (%,d weights)%s.", name, weights,
                        text == null ? "" : String.format(Locale.ROOT, "; files measured here on the first %d chunks of %d tokens of %s", chunks, ctx, text.getFileName())),
                measurements, allocations, commands);
        AtomicFile.write(out, o -> o.write(report.html().getBytes(StandardCharsets.UTF_8)));
        stdout.printf(Locale.ROOT, "wrote %s: %d files, %d allocations%n", out, measurements.size(), allocations.size());
        return 0;
    }

    private void measure(List<Measurement> measurements, Map<String, JsonNode> allocations, List<String> commands,
                         long weights, PrintWriter err) {
        for (Path f : files) {
            if (!Files.isRegularFile(f)) {
                throw new QforgeException(f + ": no such file");
            }
        }
        try (QModel base = QModel.load(model)) {
            int[] tokens = base.tokenizer().encode(TextFiles.readUtf8(text));
            int context = Math.min(ctx, base.config().maxPositions());
            PerplexityRun baseRun = new PerplexityRun(base.decoder(), PerplexityProtocol.LLAMA_CPP, context, base.bosToken());
            for (Path f : files) {
                try (QModel q = QModel.load(f, model)) {
                    PerplexityRun run = new PerplexityRun(q.decoder(), PerplexityProtocol.LLAMA_CPP, context, q.bosToken());
                    int n = Math.min(chunks, run.chunksOf(tokens.length));
                    if (n == 0) {
                        throw new QforgeException(text + ": shorter than one chunk of " + context + " tokens");
                    }
                    err.printf(Locale.ROOT, "measuring %s on %d chunks ...%n", f, n);
                    KlDivergence.Result r = KlDivergenceRun.run(run, BaseLogProbs.computed(baseRun, tokens), tokens, n, null);
                    long bytes = Files.size(f);
                    String label = f.getFileName().toString();
                    measurements.add(new Measurement(label, "qforge", "qforge", bytes, 8.0 * bytes / weights,
                            r.pplModel().value(), r.pplModel().error(), r.kld().value(), r.kld().error(), r.sameTop().value()));
                    Path alloc = f.resolveSibling(f.getFileName() + ".allocation.json");
                    if (Files.isRegularFile(alloc)) {
                        addAllocation(allocations, commands, label, alloc);
                    }
                } catch (java.io.IOException e) {
                    throw new QforgeException(f + ": cannot read: " + e.getMessage(), e);
                }
            }
        }
    }

    private static void addAllocation(Map<String, JsonNode> allocations, List<String> commands, String label, Path file) {
        JsonNode a = JsonFiles.readObject(file);
        if (!a.has("tensors") || !a.has("file_bytes")) {
            throw new QforgeException(file + ": not a bit allocation (.allocation.json written by qforge quantize --target-size)");
        }
        allocations.put(label, a);
        if (a.hasNonNull("command")) {
            commands.add(a.get("command").asText());
        }
    }
}
