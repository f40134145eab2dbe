package dev.qforge.eval;

import dev.qforge.model.Decoder;
import dev.qforge.model.ModelConfig;
import dev.qforge.model.SyntheticDecoder;
import dev.qforge.model.SyntheticShape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The two protocols score exactly the tokens they promise, computed here independently, position by position. */
class PerplexityProtocolTest {
    @TempDir
    Path tmp;

    @Test
    void protocolsScoreTheRightTokens() {
        try (var model = SyntheticDecoder.write(SyntheticShape.TINY_LLAMA, 3, tmp.resolve("m"))) {
            ModelConfig c = model.config();
            Decoder decoder = model.decoder();
            int ctx = 32;
            int[] tokens = new SplittableRandom(5).ints(3 * ctx + 7, 0, c.vocabSize() - 2).toArray();
            int bos = c.bosTokenId();

            PerplexityResult hf = new PerplexityRun(decoder, PerplexityProtocol.HF, ctx, bos).run(tokens, 0, null, null);
            assertEquals(3, hf.chunks(), "the partial last chunk is dropped");
            assertEquals(3L * (ctx - 1), hf.scoredTokens());
            assertEquals(expectedNll(decoder, tokens, ctx, 0, null), hf.meanNll(), 1e-6);

            PerplexityResult lc = new PerplexityRun(decoder, PerplexityProtocol.LLAMA_CPP, ctx, bos).run(tokens, 2, null, null);
            assertEquals(2, lc.chunks(), "--chunks limits the run");
            assertEquals(2L * (ctx - 1 - ctx / 2), lc.scoredTokens());
            double expected = 0;
            for (int chunk = 0; chunk < 2; chunk++) {
                expected += chunkNll(decoder, tokens, chunk, ctx, ctx / 2, bos);
            }
            assertEquals(expected / lc.scoredTokens(), lc.meanNll(), 1e-6);
            assertEquals(Math.exp(lc.meanNll()), lc.ppl(), 1e-9);
        }
    }

    private static double expectedNll(Decoder decoder, int[] tokens, int ctx, int first, Integer bos) {
        double sum = 0;
        int count = 0;
        for (int chunk = 0; chunk < tokens.length / ctx; chunk++) {
            sum += chunkNll(decoder, tokens, chunk, ctx, first, bos);
            count += ctx - 1 - first;
        }
        return sum / count;
    }

    /** Sum of -log p(token[i+1] | ...) for positions first..ctx-2 of a chunk, one position at a time. */
    private static double chunkNll(Decoder decoder, int[] tokens, int chunk, int ctx, int first, Integer bos) {
        int vocab = decoder.config().vocabSize();
        int[] input = java.util.Arrays.copyOfRange(tokens, chunk * ctx, chunk * ctx + ctx);
        if (bos != null) {
            input[0] = bos;
        }
        var state = decoder.newState(ctx);
        double sum = 0;
        for (int i = 0; i < ctx - 1; i++) {
            float[] logits = decoder.forward(state, input, i, 1, 1);
            if (i >= first) {
                sum -= LogSoftmax.logProbability(logits, 0, vocab, tokens[chunk * ctx + i + 1]);
            }
        }
        return sum;
    }
}
