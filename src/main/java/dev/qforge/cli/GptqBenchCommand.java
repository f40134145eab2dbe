package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.quant.gptq.GptqBenchmark;
import dev.qforge.quant.gptq.GptqQuantizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code qforge bench gptq}: GPTQ's parts on matrix shapes, against the FMA peak of the same run. */
@Command(name = "gptq", mixinStandardHelpOptions = true,
        description = {"Time GPTQ's Hessian sum, factorization and sweep on random matrices of the given shapes",
                "(default: a Llama-2-7B layer's: 4096x4096, 11008x4096, 4096x11008), each against the FMA peak",
                "measured in the same run."})
public final class GptqBenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--shape", paramLabel = "ROWSxCOLS", split = ",",
            description = "Matrix shapes, rows x input columns (default: 4096x4096,11008x4096,4096x11008).")
    List<String> shapes = List.of("4096x4096", "11008x4096", "4096x11008");

    @Option(names = {"-t", "--type"}, defaultValue = "Q4_K", description = "Block format GPTQ rounds onto: a GGUF type or a plain integer one, e.g. INT4_G128, INT8_CH_SYM (default: ${DEFAULT-VALUE}).")
    String type;

    @Option(names = "--tokens", defaultValue = "2048", description = "Calibration tokens summed into the Hessian (default: ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = {"-r", "--reps"}, defaultValue = "3", description = "Repetitions; medians are reported (default: ${DEFAULT-VALUE}).")
    int reps;

    @Override
    public Integer call() {
        // checked before any work; per-channel formats are made again for each shape's width
        if (!GptqQuantizer.supports(BlockFormats.anyByName(type, 256))) {
            throw new QforgeException("--type " + type + ": not a block format GPTQ can round onto");
        }
        if (tokens < 1 || reps < 1) {
            throw new QforgeException("--tokens and --reps must be at least 1");
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "%-11s %-5s %7s | %-16s | %-16s | %-16s | %-22s | %s%n", "shape", "type", "tokens",
                "Hessian s GF/s", "factor s GF/s", "sweep s GF/s", "lazy update share GF/s", "FMA peak GF/s (threads)");
        for (String s : shapes) {
            String[] rc = s.toLowerCase(Locale.ROOT).split("x");
            int rows;
            int cols;
            try {
                rows = Integer.parseInt(rc[0].trim());
                cols = Integer.parseInt(rc[1].trim());
            } catch (RuntimeException e) {
                throw new QforgeException("--shape " + s + ": give ROWSxCOLS, e.g. 4096x11008");
            }
            if (rows < 1 || cols < 1) {
                throw new QforgeException("--shape " + s + ": give ROWSxCOLS, e.g. 4096x11008");
            }
            BlockFormat format = BlockFormats.anyByName(type, cols);
            if (cols % format.blockSize() != 0) {
                throw new QforgeException("--shape " + s + ": columns must be a positive multiple of " + format.name()
                        + "'s block of " + format.blockSize());
            }
            GptqBenchmark.Result r = GptqBenchmark.run(rows, cols, format, tokens, reps);
            out.printf(Locale.ROOT, "%-11s %-5s %7d | %6.2f %4.0f %3.0f%% | %6.2f %4.0f %3.0f%% | %6.2f %4.0f %3.0f%% | %3.0f%% %5.0f %3.0f%% | %.0f (%d)%n",
                    s, r.format(), r.tokens(), r.hessianSeconds(), r.hessianGflops(), 100 * r.hessianGflops() / r.fmaPeakGflops(),
                    r.factorSeconds(), r.factorGflops(), 100 * r.factorGflops() / r.fmaPeakGflops(),
                    r.sweepSeconds(), r.sweepGflops(), 100 * r.sweepGflops() / r.fmaPeakGflops(),
                    100 * r.updateShare(), r.updateGflops(), 100 * r.updateGflops() / r.fmaPeakGflops(),
                    r.fmaPeakGflops(), Parallel.threads());
            out.flush();
        }
        return 0;
    }
}
