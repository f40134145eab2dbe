package dev.qforge.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code qforge eval}: the measurements of a model's quality. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Measure a model's quality.",
        subcommands = {PerplexityCommand.class, KlDivergenceCommand.class})
public final class EvalCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
