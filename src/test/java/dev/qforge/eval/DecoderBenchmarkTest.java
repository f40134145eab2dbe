package dev.qforge.eval;

import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.kernel.MemoryBandwidth;
import dev.qforge.model.Decoder;
import dev.qforge.model.DecoderWeights;
import dev.qforge.model.HfConfigFile;
import dev.qforge.model.ModelConfig;
import dev.qforge.model.SyntheticModel;
import dev.qforge.model.SyntheticShape;
import dev.qforge.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The figures of {@code qforge bench} that are not timings: here, the heap a decode step allocates. */
class DecoderBenchmarkTest {
    @TempDir
    Path tmp;

    @Test
    void heapPerDecodeTokenCountsAtLeastTheLogitsEachStepReturns() {
        Path dir = tmp.resolve("tiny");
        SyntheticModel.write(SyntheticShape.TINY_LLAMA.config(), DType.F32, 7, Long.MAX_VALUE, dir, null);
        ModelConfig config = HfConfigFile.read(dir.resolve("config.json"));
        try (var checkpoint = SafetensorsCheckpoint.open(dir);
             MemoryBandwidth probe = new MemoryBandwidth(1L << 20)) {
            Decoder decoder = new Decoder(config, DecoderWeights.load(config, checkpoint));
            DecoderBenchmark.Result r = new DecoderBenchmark(decoder).run(4, 8, 1, probe);
            // every step returns a fresh logits array; a JVM that does not count allocation reports -1
            long logits = 4L * config.vocabSize();
            assertTrue(r.heapBytesPerDecodeToken() == -1 || r.heapBytesPerDecodeToken() >= logits,
                    r.heapBytesPerDecodeToken() + " bytes per token, logits alone are " + logits);
            assertTrue(r.decodeTokensPerSecond() > 0);
        }
    }
}
