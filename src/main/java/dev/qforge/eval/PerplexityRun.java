package dev.qforge.eval;

import dev.qforge.model.Decoder;
import dev.qforge.model.InferenceState;

import java.util.Arrays;

/**
 * Perplexity of a decoder over a tokenized text. Each chunk is one batched forward pass (the whole
 * chunk at once, not token by token); only the logits of scored positions are computed.
 */
public final class PerplexityRun {
    /** Called after each chunk with (chunks done, running perplexity). */
    public interface Progress {
        void chunkDone(int done, int total, double runningPpl);
    }

    private final Decoder decoder;
    private final PerplexityProtocol protocol;
    private final int ctx;
    private final Integer bosToken;

    /**
     * @param bosToken the BOS id that replaces each chunk's first token (llama.cpp protocol), or null
     *                 when the model does not use one
     */
    public PerplexityRun(Decoder decoder, PerplexityProtocol protocol, int ctx, Integer bosToken) {
        if (ctx < 4) {
            throw new IllegalArgumentException("context of " + ctx + " tokens is too short to score");
        }
        this.decoder = decoder;
        this.protocol = protocol;
        this.ctx = ctx;
        this.bosToken = protocol == PerplexityProtocol.LLAMA_CPP ? bosToken : null;
    }

    /** Number of whole chunks a text of this many tokens gives (a partial last chunk is dropped, as llama.cpp does). */
    public int chunksOf(int tokenCount) {
        return tokenCount / ctx;
    }

    /** Tokens scored in each chunk. */
    public int scoredPerChunk() {
        return ctx - 1 - protocol.firstScoredPosition(ctx);
    }

    /**
     * The logits of chunk c's scored positions ([scoredPerChunk × vocab]): one batched forward pass over
     * the chunk, its first token replaced by BOS where the protocol and model call for it.
     */
    public float[] scoredLogits(int[] tokens, int c, InferenceState state) {
        int[] chunk = chunk(tokens, c, ctx, bosToken);
        state.reset();
        int first = protocol.firstScoredPosition(ctx);
        // Positions first .. ctx-2 predict tokens first+1 .. ctx-1; forward returns the last rows, up to ctx-1.
        float[] logits = decoder.forward(state, chunk, 0, ctx, ctx - first);
        return Arrays.copyOf(logits, scoredPerChunk() * decoder.config().vocabSize());
    }

    /**
     * Chunk c of a tokenized text as llama.cpp's tools feed it: tokens [c·ctx, (c+1)·ctx), the first
     * replaced by {@code bos} unless it is null.
     */
    public static int[] chunk(int[] tokens, int c, int ctx, Integer bos) {
        int[] chunk = Arrays.copyOfRange(tokens, c * ctx, c * ctx + ctx);
        if (bos != null) {
            chunk[0] = bos;
        }
        return chunk;
    }

    /** The tokens chunk c's scored positions predict. */
    public int[] targets(int[] tokens, int c) {
        int first = protocol.firstScoredPosition(ctx);
        return Arrays.copyOfRange(tokens, c * ctx + first + 1, c * ctx + ctx);
    }

    public Decoder decoder() {
        return decoder;
    }

    public int context() {
        return ctx;
    }

    public PerplexityProtocol protocol() {
        return protocol;
    }

    public PerplexityResult run(int[] tokens, int maxChunks, Progress progress, ScoredLogitsSink sink) {
        int chunks = chunksOf(tokens.length);
        if (maxChunks > 0) {
            chunks = Math.min(chunks, maxChunks);
        }
        if (chunks == 0) {
            throw new IllegalArgumentException("the text has " + tokens.length + " tokens, fewer than one chunk of " + ctx);
        }
        int vocab = decoder.config().vocabSize();
        int rows = scoredPerChunk();
        InferenceState state = decoder.newState(ctx);
        double nll = 0;
        double nll2 = 0;
        long count = 0;
        long start = System.nanoTime();
        for (int c = 0; c < chunks; c++) {
            float[] logits = scoredLogits(tokens, c, state);
            int[] targets = targets(tokens, c);
            for (int r = 0; r < rows; r++) {
                double v = -LogSoftmax.logProbability(logits, r * vocab, vocab, targets[r]);
                nll += v;
                nll2 += v * v;
                count++;
            }
            if (sink != null) {
                sink.accept(c, logits, targets, vocab);
            }
            if (progress != null) {
                progress.chunkDone(c + 1, chunks, Math.exp(nll / count));
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double mean = nll / count;
        double ppl = Math.exp(mean);
        double variance = nll2 / count - mean * mean;
        double error = variance > 0 && count > 1 ? Math.sqrt(variance / (count - 1)) * ppl : 0;
        return new PerplexityResult(protocol, ctx, chunks, count, mean, ppl, error, seconds);
    }
}
