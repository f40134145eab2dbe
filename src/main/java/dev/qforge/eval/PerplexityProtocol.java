package dev.qforge.eval;

/**
 * How a text is cut into chunks and which tokens are scored.
 * <ul>
 * <li>LLAMA_CPP: llama.cpp's perplexity tool. Non-overlapping chunks of ctx tokens of the whole file
 * (tokenized once, with BOS); the first token of each chunk is replaced by BOS where the model adds
 * one; only the second half of each chunk is scored (tokens ctx/2+1 .. ctx-1), so every scored token
 * sees at least ctx/2 tokens of context.</li>
 * <li>HF: the GPTQ paper's protocol, as used with transformers: chunks of ctx (2048) tokens with no
 * BOS replacement, every token after the first scored.</li>
 * </ul>
 */
public enum PerplexityProtocol {
    LLAMA_CPP(512),
    HF(2048);

    private final int defaultContext;

    PerplexityProtocol(int defaultContext) {
        this.defaultContext = defaultContext;
    }

    public int defaultContext() {
        return defaultContext;
    }

    /** Index within a chunk of the first position whose next-token prediction is scored. */
    public int firstScoredPosition(int ctx) {
        return this == LLAMA_CPP ? ctx / 2 : 0;
    }
}
