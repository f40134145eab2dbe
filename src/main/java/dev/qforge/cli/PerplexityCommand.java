package dev.qforge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.QforgeException;
import dev.qforge.eval.PerplexityProtocol;
import dev.qforge.eval.PerplexityResult;
import dev.qforge.eval.PerplexityRun;
import dev.qforge.eval.ScoredLogitsFile;
import dev.qforge.format.JsonFiles;
import dev.qforge.format.OutputPaths;
import dev.qforge.format.TextFiles;
import dev.qforge.runtime.QModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code qforge eval ppl}: perplexity over a text file, the way llama.cpp or the GPTQ paper measures it. */
@Command(name = "ppl", mixinStandardHelpOptions = true,
        description = {"Perplexity of a model over a text file.",
                "--protocol llama.cpp (default): as llama.cpp's perplexity tool: chunks of --ctx tokens (512), BOS at each chunk's start, second half of each chunk scored.",
                "--protocol hf: as the GPTQ paper: chunks of --ctx tokens (2048), every token after the first scored."})
public final class PerplexityCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = "--text", required = true, paramLabel = "FILE", description = "UTF-8 text, e.g. wiki.test.raw.")
    Path text;

    @Option(names = "--protocol", defaultValue = "llama.cpp", description = "llama.cpp or hf (default: ${DEFAULT-VALUE}).")
    String protocol;

    @Option(names = {"-c", "--ctx"}, description = "Chunk length in tokens (default: 512 for llama.cpp, 2048 for hf).")
    Integer ctx;

    @Option(names = "--chunks", defaultValue = "0", description = "Score only the first N chunks (default: all).")
    int chunks;

    @Option(names = "--json", description = "Print the result as JSON instead of llama.cpp's line.")
    boolean json;

    @Option(names = "--save-logits", paramLabel = "FILE",
            description = "Save the logits of every scored token (safetensors) for a later KL-divergence comparison.")
    Path saveLogits;

    @Override
    public Integer call() {
        PerplexityProtocol p = PerplexityProtocol.parse(protocol);
        if (chunks < 0) {
            throw new QforgeException("--chunks must be >= 0");
        }
        OutputPaths.refuseInputs(saveLogits, "--save-logits", java.util.Arrays.asList(model.dir, model.tokenizer, text));
        int context = ctx != null ? ctx : p.defaultContext();
        PrintWriter err = spec.commandLine().getErr();
        try (QModel m = model.load()) {
            if (context < 4) {
                throw new QforgeException("--ctx " + context + " is too short (at least 4 tokens)");
            }
            if (context > m.config().maxPositions()) {
                err.printf(Locale.ROOT, "qforge: warning: --ctx %d is longer than the model's %d positions%n", context, m.config().maxPositions());
            }
            String content = TextFiles.readUtf8(text);
            long t0 = System.nanoTime();
            int[] tokens = m.tokenizer().encode(content);
            double tokenizeSeconds = (System.nanoTime() - t0) / 1e9;
            PerplexityRun run = new PerplexityRun(m.decoder(), p, context, m.bosToken());
            int available = run.chunksOf(tokens.length);
            if (available == 0) {
                throw new QforgeException(text + ": " + tokens.length + " tokens, fewer than one chunk of " + context);
            }
            int total = chunks > 0 ? Math.min(chunks, available) : available;
            err.printf(Locale.ROOT, "%s: %,d tokens (tokenized in %.2f s); %d chunks of %d, protocol %s%n", text,
                    tokens.length, tokenizeSeconds, total, context, protocol);
            ProgressBar bar = new ProgressBar(err, "perplexity", total);
            PerplexityResult r;
            if (saveLogits != null) {
                try (ScoredLogitsFile.Writer sink = ScoredLogitsFile.writer(saveLogits, m.config().vocabSize(), context, total,
                    run.scoredPerChunk(), tokens, p.id())) {
                    r = run.run(tokens, total, (done, all, ppl) -> bar.update(done, String.format(Locale.ROOT, "PPL %.4f", ppl)), sink);
                    sink.commit();
                }
            } else {
                r = run.run(tokens, total, (done, all, ppl) -> bar.update(done, String.format(Locale.ROOT, "PPL %.4f", ppl)), null);
            }
            long evaluated = (long) r.chunks() * r.context();
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectNode j = JsonFiles.mapper().createObjectNode();
                j.put("model", model.dir.toString());
                j.put("text", text.toString());
                j.put("protocol", p.id());
                j.put("ctx", r.context());
                j.put("chunks", r.chunks());
                j.put("scored_tokens", r.scoredTokens());
                j.put("mean_nll", r.meanNll());
                j.put("ppl", r.ppl());
                j.put("ppl_error", r.pplError());
                j.put("seconds", r.seconds());
                j.put("tokens_per_second", r.tokensPerSecond(evaluated));
                out.println(j.toPrettyString());
            } else {
                out.printf(Locale.ROOT, "Final estimate: PPL = %.4f +/- %.5f%n", r.ppl(), r.pplError());
                err.printf(Locale.ROOT, "%d chunks, %,d tokens scored, %.1f s, %.1f tokens/s%n", r.chunks(), r.scoredTokens(),
                        r.seconds(), r.tokensPerSecond(evaluated));
            }
        }
        return 0;
    }
}
