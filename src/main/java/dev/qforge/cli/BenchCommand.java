package dev.qforge.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.CacheRoot;
import dev.qforge.QforgeException;
import dev.qforge.eval.DecoderBenchmark;
import dev.qforge.format.JsonFiles;
import dev.qforge.kernel.MatMulBackend;
import dev.qforge.kernel.MemoryBandwidth;
import dev.qforge.kernel.Parallel;
import dev.qforge.model.SyntheticModel;
import dev.qforge.model.SyntheticShape;
import dev.qforge.runtime.LoadedDecoder;
import dev.qforge.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code qforge bench}: prefill and decode speed, next to the memory-bandwidth bound. */
@Command(name = "bench", mixinStandardHelpOptions = true, subcommands = GptqBenchCommand.class,
        description = {"Measure prefill and decode tokens/s (as llama-bench's pp and tg) and the decode bound",
                "(weight bytes per token ÷ measured read bandwidth). Without --model, a synthetic model of",
                "--shape (default llama-1b) is written once to the cache and used."})
public final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, paramLabel = "DIR", description = "Model directory (default: a synthetic --shape model).")
    Path model;

    @Option(names = "--shape", defaultValue = "llama-1b", description = "Synthetic shape when no --model (default: ${DEFAULT-VALUE}).")
    String shape;

    @Option(names = "--dtype", defaultValue = "BF16", description = "Weight type of the synthetic model: F32, BF16, F16 (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = {"-p", "--prompt-tokens"}, defaultValue = "512", description = "Prefill batch (default: ${DEFAULT-VALUE}).")
    int promptTokens;

    @Option(names = {"-n", "--gen-tokens"}, defaultValue = "128", description = "Decoded tokens (default: ${DEFAULT-VALUE}).")
    int genTokens;

    @Option(names = {"-r", "--reps"}, defaultValue = "3", description = "Repetitions; medians are reported (default: ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = "--json", description = "Print the result as JSON.")
    boolean json;

    @Override
    public Integer call() {
        if (promptTokens < 1 || genTokens < 1 || reps < 1) {
            throw new QforgeException("--prompt-tokens, --gen-tokens and --reps must be at least 1");
        }
        PrintWriter err = spec.commandLine().getErr();
        Path dir = model != null ? model : syntheticModel(err);
        try (LoadedDecoder m = LoadedDecoder.load(dir); MemoryBandwidth probe = new MemoryBandwidth(1L << 30)) {
            DecoderBenchmark.Result r = new DecoderBenchmark(m.decoder()).run(promptTokens, genTokens, reps, probe);
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                ObjectNode j = JsonFiles.mapper().createObjectNode();
                j.put("model", dir.toString());
                j.put("threads", Parallel.threads());
                j.put("prefill_matmul", MatMulBackend.describe());
                j.put("pp", r.promptTokens());
                j.put("tg", r.genTokens());
                j.put("prefill_tokens_per_second", r.prefillTokensPerSecond());
                j.put("prefill_gflops", r.prefillGflops());
                j.put("fma_peak_gflops", r.fmaPeakGflops());
                j.put("decode_tokens_per_second", r.decodeTokensPerSecond());
                j.put("bytes_per_token", r.bytesPerToken());
                j.put("heap_bytes_per_decode_token", r.heapBytesPerDecodeToken());
                j.put("bandwidth_gbps_median", r.bandwidthGBps());
                j.put("bandwidth_gbps_min", r.bandwidthMinGBps());
                j.put("bandwidth_gbps_max", r.bandwidthMaxGBps());
                j.put("decode_bound_tokens_per_second", r.decodeBound());
                out.println(j.toPrettyString());
            } else {
                out.printf(Locale.ROOT, "model: %s (%d threads); %s%n", dir, Parallel.threads(), MatMulBackend.describe());
                out.printf(Locale.ROOT, "prefill pp%d: %.1f tokens/s, %.1f GFLOP/s = %.0f%% of the FMA peak probed (%.1f GFLOP/s)%n",
                        r.promptTokens(), r.prefillTokensPerSecond(), r.prefillGflops(),
                        100 * r.prefillGflops() / r.fmaPeakGflops(), r.fmaPeakGflops());
                out.printf(Locale.ROOT, "decode  tg%d: %.2f tokens/s; %.3f GB of weights per token; %s%n", r.genTokens(),
                        r.decodeTokensPerSecond(), r.bytesPerToken() / 1e9, r.heapBytesPerDecodeToken() < 0
                                ? "heap allocation not measured"
                                : String.format(Locale.ROOT, "%.0f KB allocated on the heap per token", r.heapBytesPerDecodeToken() / 1024.0));
                out.printf(Locale.ROOT, "read bandwidth: median %.1f GB/s (min %.1f, max %.1f) → decode bound %.2f tokens/s; decode at %.0f%% of it%n",
                        r.bandwidthGBps(), r.bandwidthMinGBps(), r.bandwidthMaxGBps(), r.decodeBound(),
                        100 * r.decodeTokensPerSecond() / r.decodeBound());
            }
        }
        return 0;
    }

    private Path syntheticModel(PrintWriter err) {
        SyntheticShape s = SyntheticShape.byId(shape);
        DType type = DType.fromSafetensorsName(dtype);
        if (type == null) {
            throw new QforgeException("--dtype " + dtype + " is not one of F32, BF16, F16");
        }
        Path dir = CacheRoot.of(System.getenv()).resolve("synthetic").resolve(s.id() + "-" + type.name().toLowerCase(Locale.ROOT));
        if (!Files.exists(dir)) {
            err.printf(Locale.ROOT, "writing synthetic %s (%s) to %s once...%n", s.id(), type, dir);
            SyntheticModel.write(s.config(), type, 1234, 5_000_000_000L, dir, null);
        }
        return dir;
    }
}
