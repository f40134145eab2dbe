package dev.qforge.cli;

import dev.qforge.QforgeException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code qforge demo}: the main job on the small real model of ../shared/data, as the README's first
 * command: generate text, measure WikiText-2 perplexity the way llama.cpp does next to llama.cpp's own
 * figure, then quantize the model to Q4_K_M and report what that cost (size, KL divergence, same top token).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "On qforge-tiny-llama from ../shared/data: generate text, measure WikiText-2 perplexity, quantize to Q4_K_M and report.")
public final class DemoCommand implements Callable<Integer> {
    /** llama.cpp's figure: reference/qforge-tiny-llama/llama.cpp-results.json (F32, -c 512, first 200 chunks). */
    private static final String LLAMA_CPP_PPL = "253.6382 +/- 3.37208";

    @Spec
    CommandSpec spec;

    @Option(names = "--shared", paramLabel = "DIR", description = "The shared test data folder (default: ../shared beside the checkout).")
    Path shared;

    @Override
    public Integer call() {
        Path root = shared != null ? shared : Path.of(System.getProperty("qforge.shared", "../shared"));
        Path model = root.resolve("data/models/qforge-tiny-llama/hf");
        Path text = root.resolve("data/text/wikitext-2-raw/wiki.test.raw");
        if (!Files.isDirectory(model) || !Files.exists(text)) {
            throw new QforgeException(root.resolve("data") + ": the shared test data is not there; pass --shared DIR");
        }
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        out.println("== qforge generate: qforge-tiny-llama (8.4M parameters, trained for this project), greedy");
        int exit = Main.run(new String[]{"generate", "--model", model.toString(), "--prompt", "The history of the city", "-n", "48"}, out, err);
        if (exit != 0) {
            return exit;
        }
        out.println();
        out.println("== qforge eval ppl: WikiText-2 test, llama.cpp's protocol (ctx 512), first 200 chunks");
        exit = Main.run(new String[]{"eval", "ppl", "--model", model.toString(), "--text", text.toString(), "--chunks", "200"}, out, err);
        out.println("llama.cpp's figure for the same model, text and chunks: PPL = " + LLAMA_CPP_PPL);
        if (exit != 0) {
            return exit;
        }
        out.println();
        out.println("== qforge quantize: Q4_K_M GGUF (byte-identical to llama-quantize's), checked against the F32 model");
        Path dir;
        try {
            dir = Files.createTempDirectory("qforge-demo");
        } catch (java.io.IOException e) {
            throw new QforgeException("cannot create a temporary directory: " + e.getMessage());
        }
        Path gguf = dir.resolve("qforge-tiny-llama-Q4_K_M.gguf");
        try {
            return Main.run(new String[]{"quantize", "--model", model.toString(), "--type", "Q4_K_M", "--out", gguf.toString(),
                    "--check-text", text.toString()}, out, err);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
                Files.deleteIfExists(dir);
            } catch (java.io.IOException ignored) {
                // a leftover file in the temporary directory is harmless
            }
        }
    }
}
