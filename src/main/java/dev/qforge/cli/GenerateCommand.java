package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.model.Generator;
import dev.qforge.model.Sampler;
import dev.qforge.runtime.QModel;
import dev.qforge.tokenizer.StreamingDecoder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

/** {@code qforge generate}: streams a continuation of a prompt, then prints the speed. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a prompt; prints prefill and decode tokens/s at the end (on stderr).")
public final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = {"-p", "--prompt"}, required = true, description = "The prompt text.")
    String prompt;

    @Option(names = {"-n", "--max-tokens"}, defaultValue = "128", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default); e.g. 0.8 to sample.")
    float temperature;

    @Option(names = "--top-p", defaultValue = "0.95", description = "Nucleus sampling threshold (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--seed", defaultValue = "42", description = "Sampling seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Override
    public Integer call() {
        if (maxTokens < 1) {
            throw new QforgeException("--max-tokens must be at least 1");
        }
        Sampler sampler = new Sampler(temperature, topP, seed);
        try (QModel m = model.load()) {
            int[] ids = m.tokenizer().encode(prompt);
            if (ids.length + maxTokens > m.config().maxPositions()) {
                spec.commandLine().getErr().printf(Locale.ROOT, "qforge: warning: %d prompt + %d new tokens exceed the model's %d positions%n",
                        ids.length, maxTokens, m.config().maxPositions());
            }
            Set<Integer> stop = new HashSet<>(m.tokenizer().eosIds());
            if (m.config().eosTokenId() != null) {
                stop.add(m.config().eosTokenId());
            }
            PrintWriter out = spec.commandLine().getOut();
            out.print(prompt);
            out.flush();
            StreamingDecoder text = m.tokenizer().streamingDecoder();
            text.prime(ids); // context, so that the first new token decodes with its leading space
            Generator.Stats stats = Generator.generate(m.decoder(), ids, maxTokens, sampler, stop, id -> {
                if (!stop.contains(id)) {
                    out.print(text.push(id));
                    out.flush();
                }
            });
            out.print(text.flush());
            out.println();
            out.flush();
            spec.commandLine().getErr().printf(Locale.ROOT,
                    "prompt: %d tokens, %.1f tokens/s | generated: %d tokens, %.1f tokens/s (%d threads)%n",
                    stats.promptTokens(), stats.prefillTokensPerSecond(), stats.generatedTokens(),
                    stats.decodeTokensPerSecond(), dev.qforge.kernel.Parallel.threads());
        }
        return 0;
    }
}
