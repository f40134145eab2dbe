package dev.qforge.cli;

import dev.qforge.QModel;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The --model option shared by the commands that load a model. */
final class ModelOption {
    @Option(names = {"-m", "--model"}, required = true, paramLabel = "DIR",
            description = "Hugging Face model directory (config.json, tokenizer.json, *.safetensors).")
    Path dir;

    QModel load() {
        return QModel.load(dir);
    }
}
