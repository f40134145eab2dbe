package dev.qforge.eval;

/**
 * The outcome of a perplexity run. {@code pplError} is llama.cpp's uncertainty estimate: the standard
 * error of the mean negative log-likelihood, carried through exp().
 */
public record PerplexityResult(
        PerplexityProtocol protocol,
        int context,
        int chunks,
        long scoredTokens,
        double meanNll,
        double ppl,
        double pplError,
        double seconds) {

    public double tokensPerSecond(long evaluatedTokens) {
        return evaluatedTokens / seconds;
    }
}
