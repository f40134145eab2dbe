package dev.qforge.eval;

import dev.qforge.model.InferenceState;

/** Runs a model over the chunks of a perplexity protocol and compares every scored position with a base. */
public final class KlDivergenceRun {
    private KlDivergenceRun() {
    }

    /** Called after each chunk with (chunks done, total, running mean KLD). */
    public interface Progress {
        void chunkDone(int done, int total, double meanKld);
    }

    public static KlDivergence.Result run(PerplexityRun model, BaseLogProbs base, int[] tokens, int chunks, Progress progress) {
        int vocab = model.decoder().config().vocabSize();
        InferenceState state = model.decoder().newState(model.context());
        KlDivergence kl = new KlDivergence();
        for (int c = 0; c < chunks; c++) {
            float[] logits = model.scoredLogits(tokens, c, state);
            float[] baseRows = base.chunk(c);
            int[] targets = model.targets(tokens, c);
            for (int r = 0; r < targets.length; r++) {
                kl.add(baseRows, r * vocab, logits, r * vocab, vocab, targets[r]);
            }
            if (progress != null) {
                progress.chunkDone(c + 1, chunks, kl.meanKld());
            }
        }
        return kl.result();
    }
}
