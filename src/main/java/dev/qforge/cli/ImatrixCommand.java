package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.format.Imatrix;
import dev.qforge.format.ImatrixFile;
import dev.qforge.format.OutputPaths;
import dev.qforge.format.TextFiles;
import dev.qforge.quant.imatrix.ImatrixCollector;
import dev.qforge.quant.imatrix.ImatrixRun;
import dev.qforge.runtime.QModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code qforge imatrix}: an importance matrix for quantization, as llama.cpp's llama-imatrix computes it. */
@Command(name = "imatrix", mixinStandardHelpOptions = true,
        description = {"Compute an importance matrix (per weight matrix, the mean squared activation of each input column) "
                + "over a calibration text, as llama.cpp's llama-imatrix does: chunks of --ctx tokens, BOS at each chunk's start.",
                "The file (llama.cpp's .dat format, or its GGUF format when --out ends in .gguf) is named by GGUF tensor "
                        + "names, for qforge quantize and llama-quantize --imatrix."})
public final class ImatrixCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = {"-f", "--text"}, required = true, paramLabel = "FILE", description = "UTF-8 calibration text.")
    Path text;

    @Option(names = {"-c", "--ctx"}, defaultValue = "512", description = "Chunk length in tokens (default: ${DEFAULT-VALUE}).")
    int ctx;

    @Option(names = "--chunks", defaultValue = "0", description = "Use only the first N chunks (default: all).")
    int chunks;

    @Option(names = {"-o", "--out"}, defaultValue = "imatrix.dat", paramLabel = "FILE",
            description = "Output file; .gguf: llama.cpp's GGUF imatrix format, otherwise its legacy .dat (default: ${DEFAULT-VALUE}).")
    Path out;

    @Option(names = "--process-output", description = "Also collect the LM head (output.weight), as llama-imatrix --process-output.")
    boolean processOutput;

    @Override
    public Integer call() {
        Main.calibrationMatmul();
        if (chunks < 0) {
            throw new QforgeException("--chunks must be >= 0, not " + chunks);
        }
        if (ctx < ImatrixCollector.MIN_ROWS) {
            throw new QforgeException("--ctx " + ctx + " is too short (at least " + ImatrixCollector.MIN_ROWS
                    + " tokens; llama.cpp ignores smaller batches)");
        }
        if (Files.isDirectory(out)) {
            throw new QforgeException(out + ": is a directory; --out names the imatrix file");
        }
        OutputPaths.refuseInputs(out, "-o", java.util.Arrays.asList(model.dir, model.tokenizer, text));
        boolean gguf = out.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gguf");
        PrintWriter err = spec.commandLine().getErr();
        String content = TextFiles.readUtf8(text);
        try (QModel m = model.load()) {
            if (ctx > m.config().maxPositions()) {
                err.printf(Locale.ROOT, "qforge: warning: --ctx %d is longer than the model's %d positions%n", ctx,
                        m.config().maxPositions());
            }
            long t0 = System.nanoTime();
            int[] tokens = m.tokenizer().encode(content);
            double tokenizeSeconds = (System.nanoTime() - t0) / 1e9;
            ImatrixRun run = new ImatrixRun(m.decoder(), ctx, m.bosToken(), processOutput);
            int available = run.chunksOf(tokens.length);
            if (available == 0) {
                throw new QforgeException(text + ": " + tokens.length + " tokens, fewer than one chunk of " + ctx);
            }
            int total = chunks > 0 ? Math.min(chunks, available) : available;
            err.printf(Locale.ROOT, "%s: %,d tokens (tokenized in %.2f s); %d chunks of %d%n", text, tokens.length,
                    tokenizeSeconds, total, ctx);
            ProgressBar bar = new ProgressBar(err, "imatrix", total);
            long start = System.nanoTime();
            Imatrix imatrix = run.run(tokens, total, List.of(text.toString()), (done, all) -> {
                double seconds = (System.nanoTime() - start) / 1e9;
                bar.update(done, String.format(Locale.ROOT, "%.0f tokens/s", (double) done * ctx / seconds));
            });
            if (gguf) {
                ImatrixFile.writeGguf(imatrix, out);
            } else {
                ImatrixFile.writeLegacy(imatrix, out);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            spec.commandLine().getOut().printf(Locale.ROOT, "%s: %d matrices, %d chunks of %d tokens (%s format)%n", out,
                    imatrix.entries().size(), total, ctx, gguf ? "GGUF" : "legacy .dat");
            err.printf(Locale.ROOT, "%.1f s, %.1f tokens/s%n", seconds, (double) total * ctx / seconds);
        }
        return 0;
    }
}
