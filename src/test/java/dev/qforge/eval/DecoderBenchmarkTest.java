package dev.qforge.eval;

import dev.qforge.kernel.MemoryBandwidth;
import dev.qforge.model.SyntheticDecoder;
import dev.qforge.model.SyntheticShape;
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
        try (var model = SyntheticDecoder.write(SyntheticShape.TINY_LLAMA, 7, tmp.resolve("tiny"));
             MemoryBandwidth probe = new MemoryBandwidth(1L << 20)) {
            DecoderBenchmark.Result r = new DecoderBenchmark(model.decoder()).run(4, 8, 1, probe);
            // every step returns a fresh logits array; a JVM that does not count allocation reports -1
            long logits = 4L * model.config().vocabSize();
            assertTrue(r.heapBytesPerDecodeToken() == -1 || r.heapBytesPerDecodeToken() >= logits,
                    r.heapBytesPerDecodeToken() + " bytes per token, logits alone are " + logits);
            assertTrue(r.decodeTokensPerSecond() > 0);
        }
    }
}
