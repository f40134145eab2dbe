package dev.qforge.eval;

import dev.qforge.model.InferenceState;

/**
 * The base model's log-probabilities at the scored positions of each chunk, for KL divergence: read
 * from a file saved by an earlier run, or computed by running the base model alongside.
 */
public interface BaseLogProbs {
    /** Chunk c's scored rows' log-probabilities, [rowsPerChunk × vocab]. */
    float[] chunk(int c);

    /** From a file of {@code qforge eval ppl --save-logits}. */
    static BaseLogProbs saved(ScoredLogitsFile file, int rowsPerChunk) {
        int vocab = file.vocab();
        return c -> {
            float[] rows = new float[rowsPerChunk * vocab];
            for (int r = 0; r < rowsPerChunk; r++) {
                file.logProbs(c * rowsPerChunk + r, rows, r * vocab);
            }
            return rows;
        };
    }

    /** By running the base model on the same tokens with the same protocol. */
    static BaseLogProbs computed(PerplexityRun base, int[] tokens) {
        InferenceState state = base.decoder().newState(base.context());
        int vocab = base.decoder().config().vocabSize();
        return c -> {
            float[] logits = base.scoredLogits(tokens, c, state);
            for (int off = 0; off < logits.length; off += vocab) {
                double lse = LogSoftmax.logSumExp(logits, off, vocab);
                for (int i = 0; i < vocab; i++) {
                    logits[off + i] = (float) (logits[off + i] - lse);
                }
            }
            return logits;
        };
    }
}
