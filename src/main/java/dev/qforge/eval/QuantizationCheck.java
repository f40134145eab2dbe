package dev.qforge.eval;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.format.JsonFiles;
import dev.qforge.model.Generator;
import dev.qforge.model.Sampler;
import dev.qforge.runtime.QModel;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A quick look at whether a quantized model still behaves like its source: KL divergence and the rate at
 * which both put the same token on top, over a few chunks of a text (llama.cpp's perplexity protocol), and a
 * short greedy generation from both. A result that looks broken (same-top below 50 % or mean KLD above 1
 * nat, or generations that part at the first token) is flagged.
 */
public final class QuantizationCheck {
    /** Same-top rate below this looks broken. */
    public static final double MIN_SAME_TOP = 0.5;
    /** Mean KLD (nats) above this looks broken. */
    public static final double MAX_KLD = 1.0;

    /** The text part; null fields when no text was given. */
    public record TextResult(int chunks, int ctx, int tokens, KlDivergence.Result kld) {
    }

    /** Greedy continuations of the same prompt, and how many leading tokens they share. */
    public record GenerationResult(String prompt, String base, String quantized, int[] baseIds, int[] quantizedIds,
                                   int commonPrefix) {
    }

    public record Report(TextResult text, GenerationResult generation, List<String> problems) {
        public boolean looksBroken() {
            return !problems.isEmpty();
        }

        public ObjectNode toJson() {
            ObjectNode j = JsonFiles.mapper().createObjectNode();
            if (text != null) {
                ObjectNode t = j.putObject("text");
                t.put("chunks", text.chunks());
                t.put("ctx", text.ctx());
                t.put("scored_tokens", text.tokens());
                KlDivergence.Result r = text.kld();
                t.put("mean_kld", r.kld().value());
                t.put("mean_kld_error", r.kld().error());
                t.put("kld_p99", r.kldDistribution().p99());
                t.put("same_top", r.sameTop().value());
                t.put("same_top_error", r.sameTop().error());
                t.put("ppl_base", r.pplBase().value());
                t.put("ppl_quantized", r.pplModel().value());
                t.put("ppl_ratio", r.pplRatio().value());
            } else {
                j.putNull("text");
            }
            if (generation != null) {
                ObjectNode g = j.putObject("generation");
                g.put("prompt", generation.prompt());
                g.put("base", generation.base());
                g.put("quantized", generation.quantized());
                g.put("tokens", generation.baseIds().length);
                g.put("common_prefix_tokens", generation.commonPrefix());
            }
            j.put("looks_broken", looksBroken());
            var arr = j.putArray("problems");
            problems.forEach(arr::add);
            return j;
        }
    }

    private QuantizationCheck() {
    }

    /** KLD and same-top over the first {@code chunks} chunks of {@code ctx} tokens of {@code text}. */
    public static TextResult text(QModel base, QModel quantized, String text, int chunks, int ctx) {
        int[] tokens = base.tokenizer().encode(text);
        int context = Math.min(ctx, base.config().maxPositions());
        PerplexityRun baseRun = new PerplexityRun(base.decoder(), PerplexityProtocol.LLAMA_CPP, context, base.bosToken());
        PerplexityRun run = new PerplexityRun(quantized.decoder(), PerplexityProtocol.LLAMA_CPP, context, quantized.bosToken());
        int n = Math.min(chunks, run.chunksOf(tokens.length));
        if (n == 0) {
            return null;
        }
        KlDivergence.Result r = KlDivergenceRun.run(run, BaseLogProbs.computed(baseRun, tokens), tokens, n, null);
        return new TextResult(n, context, r.tokens(), r);
    }

    /** Greedy generation of up to {@code maxTokens} from both models. */
    public static GenerationResult generation(QModel base, QModel quantized, String prompt, int maxTokens) {
        int[] ids = base.tokenizer().encode(prompt);
        int[] a = greedy(base, ids, maxTokens);
        int[] b = greedy(quantized, ids, maxTokens);
        int common = 0;
        while (common < Math.min(a.length, b.length) && a[common] == b[common]) {
            common++;
        }
        return new GenerationResult(prompt, base.tokenizer().decode(a, true), quantized.tokenizer().decode(b, true), a, b, common);
    }

    private static int[] greedy(QModel m, int[] prompt, int maxTokens) {
        Set<Integer> stop = new HashSet<>(m.tokenizer().eosIds());
        if (m.config().eosTokenId() != null) {
            stop.add(m.config().eosTokenId());
        }
        int budget = Math.max(1, Math.min(maxTokens, m.config().maxPositions() - prompt.length));
        List<Integer> out = new ArrayList<>();
        Generator.generate(m.decoder(), prompt, budget, new Sampler(0, 1, 0), stop, out::add);
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The report, with what looks broken spelled out. */
    public static Report report(TextResult text, GenerationResult generation) {
        List<String> problems = new ArrayList<>();
        if (text != null) {
            double sameTop = text.kld().sameTop().value();
            double kld = text.kld().kld().value();
            if (sameTop < MIN_SAME_TOP) {
                problems.add(String.format(Locale.ROOT, "the quantized model picks the source model's top token only %.1f %% of the time (expected well above %.0f %%)",
                        100 * sameTop, 100 * MIN_SAME_TOP));
            }
            if (!(kld <= MAX_KLD)) {
                problems.add(String.format(Locale.ROOT, "mean KL divergence %.3f nats is above %.1f", kld, MAX_KLD));
            }
        }
        if (generation != null && generation.baseIds().length > 1 && generation.commonPrefix() == 0) {
            problems.add("greedy generations differ from the very first token");
        }
        return new Report(text, generation, problems);
    }
}
