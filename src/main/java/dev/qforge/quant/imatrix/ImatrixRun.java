package dev.qforge.quant.imatrix;

import dev.qforge.eval.PerplexityRun;

import dev.qforge.format.Imatrix;
import dev.qforge.model.ActivationObserver;
import dev.qforge.model.Decoder;
import dev.qforge.model.InferenceState;

import java.util.List;

/**
 * Computes an importance matrix over calibration tokens the way {@code llama-imatrix -c CTX --chunks N}
 * does: the tokenized text (BOS first, where the model adds one) is cut into whole chunks of {@code ctx}
 * tokens (a partial last chunk is dropped); each chunk is one forward pass from an empty cache with its
 * first token replaced by BOS, and every token of it contributes to every layer's statistics.
 * The result is keyed by GGUF tensor names, with counts in tokens ({@link Imatrix#chunkSize()} = ctx).
 */
public final class ImatrixRun {
    /** Called after each chunk. */
    public interface Progress {
        void chunkDone(int done, int total);
    }

    private final Decoder decoder;
    private final int ctx;
    private final Integer bosToken;
    private final boolean processOutput;

    /**
     * @param ctx           tokens per chunk, at least {@link ImatrixCollector#MIN_ROWS}
     * @param bosToken      the BOS id that replaces each chunk's first token, or null when the model uses none
     * @param processOutput also collect the LM head (llama-imatrix --process-output)
     */
    public ImatrixRun(Decoder decoder, int ctx, Integer bosToken, boolean processOutput) {
        if (ctx < ImatrixCollector.MIN_ROWS) {
            throw new IllegalArgumentException("chunks of " + ctx + " tokens are too short (at least "
                    + ImatrixCollector.MIN_ROWS + ")");
        }
        this.decoder = decoder;
        this.ctx = ctx;
        this.bosToken = bosToken;
        this.processOutput = processOutput;
    }

    /** Whole chunks in a text of this many tokens. */
    public int chunksOf(int tokenCount) {
        return tokenCount / ctx;
    }

    public int context() {
        return ctx;
    }

    /** Chunk c as the forward pass sees it: its tokens, the first replaced by BOS where the model uses one. */
    public int[] chunk(int[] tokens, int c) {
        return PerplexityRun.chunk(tokens, c, ctx, bosToken);
    }

    /** Runs chunk c through the decoder (cache reset first) with {@code observer} watching. */
    public void runChunk(int[] tokens, int c, InferenceState state, ActivationObserver observer) {
        int[] chunk = chunk(tokens, c);
        state.reset();
        decoder.setActivationObserver(observer);
        try {
            // Logits are only needed when the LM head's input is collected.
            decoder.forward(state, chunk, 0, ctx, processOutput ? ctx : 0);
        } finally {
            decoder.setActivationObserver(null);
        }
    }

    /**
     * Collects over the first {@code maxChunks} chunks (all when {@code maxChunks} <= 0).
     *
     * @param datasets the calibration file names recorded in the result
     */
    public Imatrix run(int[] tokens, int maxChunks, List<String> datasets, Progress progress) {
        int chunks = chunksOf(tokens.length);
        if (maxChunks > 0) {
            chunks = Math.min(chunks, maxChunks);
        }
        if (chunks == 0) {
            throw new IllegalArgumentException("the text has " + tokens.length + " tokens, fewer than one chunk of " + ctx);
        }
        ImatrixCollector collector = new ImatrixCollector(processOutput);
        InferenceState state = decoder.newState(ctx);
        for (int c = 0; c < chunks; c++) {
            runChunk(tokens, c, state, collector);
            if (progress != null) {
                progress.chunkDone(c + 1, chunks);
            }
        }
        return collector.toImatrix(datasets, chunks, ctx);
    }
}
