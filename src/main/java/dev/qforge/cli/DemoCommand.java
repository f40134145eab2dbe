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
 * command: generate text, then measure WikiText-2 perplexity the way llama.cpp does and set it next to
 * llama.cpp's own figure for the same model and text.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Generate text with qforge-tiny-llama from ../shared/data and measure its WikiText-2 perplexity.")
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
        return exit;
    }
}
