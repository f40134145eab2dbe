package dev.qforge.eval;

/**
 * Receives the logits of every scored position of a perplexity run, chunk by chunk, so that a later run
 * can measure KL divergence against them.
 */
public interface ScoredLogitsSink {
    /**
     * @param chunk   chunk index
     * @param logits  [rows × vocab] logits, row r predicting {@code targets[r]}
     * @param targets the tokens that were to be predicted
     */
    void accept(int chunk, float[] logits, int[] targets, int vocab);
}
