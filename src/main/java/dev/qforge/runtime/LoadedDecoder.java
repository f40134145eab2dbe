package dev.qforge.runtime;

import dev.qforge.QforgeException;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.model.Decoder;
import dev.qforge.model.DecoderWeights;
import dev.qforge.model.GgufCheckpoint;
import dev.qforge.model.HfConfigFile;
import dev.qforge.model.ModelConfig;
import dev.qforge.tensor.TensorStore;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A decoder over a checkpoint's memory-mapped weights, without a tokenizer: what benchmarks and
 * quantizers need. {@link QModel} adds the tokenizer.
 */
public record LoadedDecoder(Path source, ModelConfig config, Decoder decoder, TensorStore weights) implements AutoCloseable {

    /** A Hugging Face model directory (config.json + safetensors) or a llama.cpp GGUF file. */
    public static LoadedDecoder load(Path path) {
        if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".gguf")) {
            GgufCheckpoint checkpoint = GgufCheckpoint.open(path);
            try {
                ModelConfig config = checkpoint.config();
                Decoder decoder = new Decoder(config, DecoderWeights.load(config, checkpoint, checkpoint.ropeLayout()));
                return new LoadedDecoder(path, config, decoder, checkpoint);
            } catch (RuntimeException e) {
                checkpoint.close();
                throw e;
            }
        }
        if (!Files.isDirectory(path)) {
            throw new QforgeException(path + ": not a model directory (expected config.json, tokenizer.json and safetensors) or .gguf file");
        }
        ModelConfig config = HfConfigFile.read(path.resolve("config.json"));
        SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(path);
        try {
            return new LoadedDecoder(path, config, new Decoder(config, DecoderWeights.load(config, checkpoint)), checkpoint);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    @Override
    public void close() {
        decoder.weights().releaseDecodeLayouts(); // packed copies off the heap: free them now, not at some GC
        weights.close();
    }
}
