package dev.qforge;

import dev.qforge.format.GgufCheckpoint;
import dev.qforge.format.HfConfigFile;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.model.Decoder;
import dev.qforge.model.DecoderWeights;
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
    public static QModel load(Path dir) {
        if (Files.isRegularFile(dir) && dir.getFileName().toString().endsWith(".gguf")) {
            return loadGguf(dir, dir.toAbsolutePath().getParent());
        }
        if (!Files.isDirectory(dir)) {
            throw new QforgeException(dir + ": not a model directory (expected config.json, tokenizer.json and safetensors)");
        }
        ModelConfig config = HfConfigFile.read(dir.resolve("config.json"));
        Tokenizer tokenizer = Tokenizer.load(dir);
        SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir);
        try {
            Decoder decoder = new Decoder(config, DecoderWeights.load(config, checkpoint));
            return new QModel(dir, config, tokenizer, decoder, checkpoint);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /**
     * Loads a GGUF model file with the Hugging Face tokenizer of {@code tokenizerDir} (reading the tokenizer
     * embedded in GGUF metadata is not implemented yet).
     */
    public static QModel loadGguf(Path file, Path tokenizerDir) {
        Tokenizer tokenizer = Tokenizer.load(tokenizerDir);
        GgufCheckpoint checkpoint = GgufCheckpoint.open(file);
        try {
            ModelConfig config = checkpoint.config();
            if (tokenizer.vocabSize() > config.vocabSize()) {
                throw new QforgeException(tokenizerDir + ": tokenizer of " + tokenizer.vocabSize() + " tokens does not fit "
                        + file + " (vocabulary " + config.vocabSize() + ")");
            }
            Decoder decoder = new Decoder(config, DecoderWeights.load(config, checkpoint, checkpoint.ropeLayout()));
            return new QModel(file, config, tokenizer, decoder, checkpoint);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
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
