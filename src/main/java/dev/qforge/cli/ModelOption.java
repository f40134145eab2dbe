package dev.qforge.cli;

import dev.qforge.runtime.QModel;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The --model option shared by the commands that load a model. */
final class ModelOption {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR|FILE",
            description = "Hugging Face model directory (config.json, tokenizer.json, *.safetensors), or a GGUF file.")
    Path dir;

    @Option(names = "--tokenizer", paramLabel = "DIR",
            description = "Use the tokenizer.json of DIR instead of the model's own (a GGUF file carries its tokenizer).")
    Path tokenizer;

    QModel load() {
        return tokenizer != null ? QModel.load(dir, tokenizer) : QModel.load(dir);
    }
}
