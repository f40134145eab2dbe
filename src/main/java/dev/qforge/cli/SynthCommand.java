package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.model.HfConfigFile;
import dev.qforge.model.ModelConfig;
import dev.qforge.model.SyntheticModel;
import dev.qforge.model.SyntheticShape;
import dev.qforge.tensor.DType;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code qforge synth}: a model with random weights, as a real Hugging Face directory. */
@Command(name = "synth", mixinStandardHelpOptions = true,
        description = {"Write a model with random weights (fixed seed) as a Hugging Face directory:",
                "config.json, safetensors, a byte-level tokenizer. For tests and benchmarks at real shapes."})
public final class SynthCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    static final class Source {
        @Option(names = "--shape", paramLabel = "NAME", description = "A named shape: ${COMPLETION-CANDIDATES}.",
                completionCandidates = ShapeNames.class)
        String shape;

        @Option(names = "--config", paramLabel = "FILE", description = "A config.json to take the shape from.")
        Path config;
    }

    static final class ShapeNames implements Iterable<String> {
        @Override
        public java.util.Iterator<String> iterator() {
            return java.util.Arrays.stream(SyntheticShape.values()).map(SyntheticShape::id).iterator();
        }
    }

    @ArgGroup(multiplicity = "1")
    Source source;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Directory to create (must not exist).")
    Path out;

    @Option(names = "--dtype", defaultValue = "BF16", paramLabel = "TYPE",
            description = "Weight type: F32, BF16 or F16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--seed", defaultValue = "1234", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--max-shard-size", defaultValue = "5GB", paramLabel = "SIZE",
            description = "Largest safetensors shard, e.g. 500MB, 5GB (default: ${DEFAULT-VALUE}).")
    String maxShardSize;

    @Override
    public Integer call() {
        ModelConfig config = source.shape != null ? SyntheticShape.byId(source.shape).config() : HfConfigFile.read(source.config);
        DType type = DType.fromSafetensorsName(dtype);
        if (type == null) {
            throw new QforgeException("--dtype " + dtype + " is not a known type (F32, BF16 or F16)");
        }
        long start = System.nanoTime();
        var err = spec.commandLine().getErr();
        SyntheticModel.write(config, type, seed, Sizes.parseBytes("--max-shard-size", maxShardSize), out,
                name -> {
                    err.print("\rwriting " + name + "\u001b[K");
                    err.flush();
                });
        err.println();
        spec.commandLine().getOut().printf(Locale.ROOT, "wrote %s: %s, %,d parameters, %s, in %.1f s%n", out,
                config.family().architecture(), config.parameterCount(), type, (System.nanoTime() - start) / 1e9);
        return 0;
    }
}
