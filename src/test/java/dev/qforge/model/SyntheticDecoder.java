package dev.qforge.model;

import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.tensor.DType;

import java.nio.file.Path;

/**
 * For tests: a synthetic model of a shape written as F32 Hugging Face files into dir and opened as a decoder (the way
 * a user's model is read, config.json included). Close it to unmap the weights.
 */
public record SyntheticDecoder(ModelConfig config, Decoder decoder, SafetensorsCheckpoint checkpoint) implements AutoCloseable {
    public static SyntheticDecoder write(SyntheticShape shape, long seed, Path dir) {
        SyntheticModel.write(shape.config(), DType.F32, seed, Long.MAX_VALUE, dir, null);
        ModelConfig config = HfConfigFile.read(dir.resolve("config.json"));
        SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir);
        try {
            return new SyntheticDecoder(config, new Decoder(config, DecoderWeights.load(config, checkpoint)), checkpoint);
        } catch (RuntimeException | Error e) {
            checkpoint.close();
            throw e;
        }
    }

    @Override
    public void close() {
        checkpoint.close();
    }
}
