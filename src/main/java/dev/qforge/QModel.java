package dev.qforge;

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

    /** Loads a Hugging Face model directory (config.json, tokenizer.json, safetensors). */
    public static QModel load(Path dir) {
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
