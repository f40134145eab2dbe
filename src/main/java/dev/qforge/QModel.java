package dev.qforge;

import dev.qforge.model.Decoder;
import dev.qforge.model.ModelConfig;
import dev.qforge.tensor.TensorStore;
import dev.qforge.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A loaded model: configuration, tokenizer and a decoder over memory-mapped weights. The entry point for
 * using qforge as a library: {@code try (QModel m = QModel.load(dir)) { ... m.decoder().forward(...) }}.
 */
public record QModel(Path directory, ModelConfig config, Tokenizer tokenizer, Decoder decoder, TensorStore weights)
        implements AutoCloseable {

    /**
     * Loads a Hugging Face model directory (config.json, tokenizer.json, safetensors), or a llama.cpp GGUF
     * file with the tokenizer.json of the directory it is in.
     */
    public static QModel load(Path path) {
        boolean gguf = Files.isRegularFile(path) && path.getFileName().toString().endsWith(".gguf");
        return loadWithTokenizer(path, gguf ? path.toAbsolutePath().getParent() : path);
    }

    /**
     * Loads a GGUF model file with the Hugging Face tokenizer of {@code tokenizerDir} (reading the tokenizer
     * embedded in GGUF metadata is not implemented yet).
     */
    public static QModel loadGguf(Path file, Path tokenizerDir) {
        return loadWithTokenizer(file, tokenizerDir);
    }

    private static QModel loadWithTokenizer(Path path, Path tokenizerDir) {
        if (!Files.exists(path)) {
            throw new QforgeException(path + ": not a model directory (expected config.json, tokenizer.json and safetensors) or .gguf file");
        }
        Tokenizer tokenizer = Tokenizer.load(tokenizerDir);
        LoadedDecoder loaded = LoadedDecoder.load(path);
        if (tokenizer.vocabSize() > loaded.config().vocabSize()) {
            loaded.close();
            throw new QforgeException(tokenizerDir + ": tokenizer of " + tokenizer.vocabSize() + " tokens does not fit "
                    + path + " (vocabulary " + loaded.config().vocabSize() + ")");
        }
        return new QModel(path, loaded.config(), tokenizer, loaded.decoder(), loaded.weights());
    }

    /** The BOS id the model starts sequences with, or null when its tokenizer adds none. */
    public Integer bosToken() {
        if (!tokenizer.addsBos()) {
            return null;
        }
        return tokenizer.bosId().isPresent() ? tokenizer.bosId().getAsInt() : config.bosTokenId();
    }

    @Override
    public void close() {
        weights.close();
    }
}
