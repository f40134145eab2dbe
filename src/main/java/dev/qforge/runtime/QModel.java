package dev.qforge.runtime;

import dev.qforge.QforgeException;
import dev.qforge.model.Decoder;
import dev.qforge.model.GgufCheckpoint;
import dev.qforge.model.ModelConfig;
import dev.qforge.tensor.TensorStore;
import dev.qforge.tokenizer.GgufTokenizer;
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
     * file with the tokenizer its metadata carries.
     */
    public static QModel load(Path path) {
        if (!Files.exists(path)) {
            throw new QforgeException(path + ": not a model directory (expected config.json, tokenizer.json and safetensors) or .gguf file");
        }
        LoadedDecoder loaded = LoadedDecoder.load(path);
        try {
            Tokenizer tokenizer = loaded.weights() instanceof GgufCheckpoint gguf ? GgufTokenizer.from(gguf.file())
                    : Tokenizer.load(path);
            return withTokenizer(loaded, tokenizer, path);
        } catch (RuntimeException e) {
            loaded.close();
            throw e;
        }
    }

    /** Loads a model (directory or GGUF file) with the Hugging Face tokenizer of {@code tokenizerDir} instead of its own. */
    public static QModel load(Path path, Path tokenizerDir) {
        Tokenizer tokenizer = Tokenizer.load(tokenizerDir);
        LoadedDecoder loaded = LoadedDecoder.load(path);
        try {
            return withTokenizer(loaded, tokenizer, tokenizerDir);
        } catch (RuntimeException e) {
            loaded.close();
            throw e;
        }
    }

    private static QModel withTokenizer(LoadedDecoder loaded, Tokenizer tokenizer, Path tokenizerSource) {
        if (tokenizer.vocabSize() > loaded.config().vocabSize()) {
            throw new QforgeException(tokenizerSource + ": tokenizer of " + tokenizer.vocabSize() + " tokens does not fit "
                    + loaded.source() + " (vocabulary " + loaded.config().vocabSize() + ")");
        }
        return new QModel(loaded.source(), loaded.config(), tokenizer, loaded.decoder(), loaded.weights());
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
        decoder.weights().releaseDecodeLayouts(); // packed copies off the heap: free them now, not at some GC
        weights.close();
    }
}
