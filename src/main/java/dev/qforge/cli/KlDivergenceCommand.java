package dev.qforge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.QforgeException;
import dev.qforge.eval.BaseLogProbs;
import dev.qforge.eval.KlDivergence;
import dev.qforge.eval.KlDivergenceRun;
import dev.qforge.eval.PerplexityProtocol;
import dev.qforge.eval.PerplexityRun;
import dev.qforge.eval.ScoredLogitsFile;
import dev.qforge.format.JsonFiles;
import dev.qforge.format.TextFiles;
import dev.qforge.runtime.QModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code qforge eval kld}: how far a (quantized) model's predictions are from a base model's. */
@Command(name = "kld", mixinStandardHelpOptions = true,
        description = {"KL divergence of a model against a base model on the scored tokens of a perplexity run,",
                "with the statistics llama.cpp's --kl-divergence prints (PPL ratio, KLD percentiles, Δp, same top token).",
                "--base is a file saved by `qforge eval ppl --save-logits` (tokens, ctx and protocol come from it),",
                "or a model directory (then --text is needed and both models run)."})
public final class KlDivergenceCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = "--base", required = true, paramLabel = "FILE|DIR", description = "Saved base logits, or the base model's directory.")
    Path base;

    @Option(names = "--text", paramLabel = "FILE", description = "Text to evaluate (with a base model directory).")
    Path text;

    @Option(names = "--protocol", defaultValue = "llama.cpp", description = "With a base directory: llama.cpp or hf (default: ${DEFAULT-VALUE}).")
    String protocol;

    @Option(names = {"-c", "--ctx"}, description = "With a base directory: chunk length (default: 512 for llama.cpp, 2048 for hf).")
    Integer ctx;

    @Option(names = "--chunks", defaultValue = "0", description = "Compare only the first N chunks (default: all).")
    int chunks;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Option(names = "--report", paramLabel = "DIR", description = "Also write DIR/report.html: this file's KLD at its size (the report page of qforge report).")
    Path reportDir;

    @Override
    public Integer call() {
        if (chunks < 0) {
            throw new QforgeException("--chunks must be >= 0");
        }
        PrintWriter err = spec.commandLine().getErr();
        ReportPage.checkDir(reportDir);
        KlDivergence.Result r;
        long weights = 0;
        try (QModel m = model.load()) {
            if (Files.isDirectory(base)) {
                r = againstModel(m, err);
            } else {
                r = againstFile(m, err);
            }
            if (reportDir != null) {
                weights = weightCount(model.dir);
            }
        }
        print(r);
        if (reportDir != null) {
            writeReport(r, weights);
        }
        return 0;
    }

    /** DIR/report.html: the model's file at its size with these measures, and the command. */
    private void writeReport(KlDivergence.Result r, long weights) {
        long bytes = fileBytes(model.dir);
        String label = model.dir.getFileName().toString();
        var m = new dev.qforge.eval.report.Measurement(label, "qforge", "qforge eval kld", bytes, 8.0 * bytes / weights,
                r.pplModel().value(), r.pplModel().error(), r.kld().value(), r.kld().error(), r.sameTop().value());
        var page = new dev.qforge.eval.report.QualityReport(label + ": KL divergence", String.format(Locale.ROOT,
                "%s against %s, %d scored tokens.", label, base.getFileName(), r.tokens()), java.util.List.of(m), java.util.Map.of(),
                java.util.List.of("qforge " + String.join(" ", spec.commandLine().getParseResult().originalArgs())));
        spec.commandLine().getErr().println("report written to " + ReportPage.write(reportDir, page));
    }

    /** The weights of a model: a GGUF file's tensors' elements, or a directory's safetensors'. */
    private static long weightCount(Path p) {
        if (Files.isDirectory(p)) {
            return dev.qforge.format.SafetensorsCheckpoint.elementCount(p);
        }
        try (dev.qforge.format.GgufFile f = dev.qforge.format.GgufFile.open(p)) {
            long n = 0;
            for (dev.qforge.format.GgufTensorInfo t : f.tensorInfos()) {
                n += t.elementCount();
            }
            return n;
        }
    }

    /** The bytes of a model: the GGUF file, or a directory's safetensors. */
    private static long fileBytes(Path p) {
        try {
            return Files.isDirectory(p) ? dev.qforge.format.SafetensorsCheckpoint.fileBytes(p) : Files.size(p);
        } catch (java.io.IOException e) {
            throw new QforgeException(p + ": cannot read its size: " + e.getMessage(), e);
        }
    }

    private KlDivergence.Result againstFile(QModel m, PrintWriter err) {
        if (text != null) {
            err.println("qforge: note: --text is ignored; the tokens come from " + base);
        }
        try (ScoredLogitsFile saved = ScoredLogitsFile.open(base)) {
            checkVocab(saved.vocab(), m, base);
            PerplexityProtocol p = PerplexityProtocol.parse(saved.protocol());
            PerplexityRun run = new PerplexityRun(m.decoder(), p, saved.ctx(), m.bosToken());
            int n = chunks > 0 ? Math.min(chunks, saved.chunks()) : saved.chunks();
            return compare(run, BaseLogProbs.saved(saved, run.scoredPerChunk()), saved.tokens(), n, err);
        }
    }

    private KlDivergence.Result againstModel(QModel m, PrintWriter err) {
        if (text == null) {
            throw new QforgeException("--text is needed when --base is a model directory");
        }
        PerplexityProtocol p = PerplexityProtocol.parse(protocol);
        int context = ctx != null ? ctx : p.defaultContext();
        try (QModel b = QModel.load(base)) {
            checkVocab(b.config().vocabSize(), m, base);
            int[] tokens = b.tokenizer().encode(TextFiles.readUtf8(text));
            PerplexityRun baseRun = new PerplexityRun(b.decoder(), p, context, b.bosToken());
            int available = baseRun.chunksOf(tokens.length);
            if (available == 0) {
                throw new QforgeException(text + ": " + tokens.length + " tokens, fewer than one chunk of " + context);
            }
            int n = chunks > 0 ? Math.min(chunks, available) : available;
            PerplexityRun run = new PerplexityRun(m.decoder(), p, context, m.bosToken());
            return compare(run, BaseLogProbs.computed(baseRun, tokens), tokens, n, err);
        }
    }

    private static void checkVocab(int baseVocab, QModel m, Path base) {
        if (baseVocab != m.config().vocabSize()) {
            throw new QforgeException(base + ": vocabulary of " + baseVocab + " tokens, but the model has "
                    + m.config().vocabSize() + "; KL divergence needs the same vocabulary");
        }
    }

    private KlDivergence.Result compare(PerplexityRun run, BaseLogProbs baseRows, int[] tokens, int n, PrintWriter err) {
        err.printf(Locale.ROOT, "comparing %d chunks of %d tokens, protocol %s%n", n, run.context(), run.protocol().id());
        ProgressBar bar = new ProgressBar(err, "kl-divergence", n);
        return KlDivergenceRun.run(run, baseRows, tokens, n,
                (done, total, mean) -> bar.update(done, String.format(Locale.ROOT, "mean KLD %.6f", mean)));
    }

    private void print(KlDivergence.Result r) {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            ObjectNode j = JsonFiles.mapper().createObjectNode();
            j.put("tokens", r.tokens());
            put(j, "ppl", r.pplModel());
            put(j, "ppl_base", r.pplBase());
            j.put("nll_correlation", r.nllCorrelation());
            put(j, "ln_ppl_ratio", r.logPplRatio());
            put(j, "ppl_ratio", r.pplRatio());
            put(j, "ppl_difference", r.pplDifference());
            put(j, "kld", r.kld());
            distribution(j.putObject("kld_distribution"), r.kldDistribution());
            put(j, "delta_p", r.deltaP());
            distribution(j.putObject("delta_p_distribution"), r.deltaPDistribution());
            put(j, "rms_delta_p", r.rmsDeltaP());
            put(j, "same_top", r.sameTop());
            out.println(j.toPrettyString());
            return;
        }
        out.println("====== Perplexity statistics ======");
        out.printf(Locale.ROOT, "Mean PPL(Q)                   : %10.6f ± %10.6f%n", r.pplModel().value(), r.pplModel().error());
        out.printf(Locale.ROOT, "Mean PPL(base)                : %10.6f ± %10.6f%n", r.pplBase().value(), r.pplBase().error());
        out.printf(Locale.ROOT, "Cor(ln(PPL(Q)), ln(PPL(base))): %6.2f%%%n", 100 * r.nllCorrelation());
        out.printf(Locale.ROOT, "Mean ln(PPL(Q)/PPL(base))     : %10.6f ± %10.6f%n", r.logPplRatio().value(), r.logPplRatio().error());
        out.printf(Locale.ROOT, "Mean PPL(Q)/PPL(base)         : %10.6f ± %10.6f%n", r.pplRatio().value(), r.pplRatio().error());
        out.printf(Locale.ROOT, "Mean PPL(Q)-PPL(base)         : %10.6f ± %10.6f%n", r.pplDifference().value(), r.pplDifference().error());
        out.println();
        out.println("====== KL divergence statistics ======");
        out.printf(Locale.ROOT, "Mean    KLD: %10.6f ± %10.6f%n", r.kld().value(), r.kld().error());
        printDistribution(out, "KLD", r.kldDistribution(), 1, "");
        out.println();
        out.println("====== Token probability statistics ======");
        out.printf(Locale.ROOT, "Mean    Δp: %8.3f ± %5.3f %%%n", 100 * r.deltaP().value(), 100 * r.deltaP().error());
        printDistribution(out, "Δp", r.deltaPDistribution(), 100, " %");
        out.printf(Locale.ROOT, "RMS Δp    : %8.3f ± %5.3f %%%n", 100 * r.rmsDeltaP().value(), 100 * r.rmsDeltaP().error());
        out.printf(Locale.ROOT, "Same top p: %8.3f ± %5.3f %%%n", 100 * r.sameTop().value(), 100 * r.sameTop().error());
    }

    private static void printDistribution(PrintWriter out, String what, KlDivergence.Distribution d, double scale, String unit) {
        String format = "%-8s%s: %10.6f" + unit.replace("%", "%%") + "%n";
        out.printf(Locale.ROOT, format, "Maximum", what, scale * d.max());
        out.printf(Locale.ROOT, format, "99.9%", what, scale * d.p999());
        out.printf(Locale.ROOT, format, "99.0%", what, scale * d.p99());
        out.printf(Locale.ROOT, format, "95.0%", what, scale * d.p95());
        out.printf(Locale.ROOT, format, "90.0%", what, scale * d.p90());
        out.printf(Locale.ROOT, format, "Median", what, scale * d.median());
        out.printf(Locale.ROOT, format, "10.0%", what, scale * d.p10());
        out.printf(Locale.ROOT, format, " 5.0%", what, scale * d.p5());
        out.printf(Locale.ROOT, format, " 1.0%", what, scale * d.p1());
        out.printf(Locale.ROOT, format, " 0.1%", what, scale * d.p01());
        out.printf(Locale.ROOT, format, "Minimum", what, scale * d.min());
    }

    private static void put(ObjectNode j, String key, KlDivergence.Estimate e) {
        j.put(key, e.value());
        j.put(key + "_error", e.error());
    }

    private static void distribution(ObjectNode j, KlDivergence.Distribution d) {
        j.put("max", d.max());
        j.put("p99_9", d.p999());
        j.put("p99", d.p99());
        j.put("p95", d.p95());
        j.put("p90", d.p90());
        j.put("median", d.median());
        j.put("p10", d.p10());
        j.put("p5", d.p5());
        j.put("p1", d.p1());
        j.put("p0_1", d.p01());
        j.put("min", d.min());
    }
}
