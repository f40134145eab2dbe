package dev.qforge.model;

import java.util.Set;
import java.util.function.IntConsumer;

/** Autoregressive generation: one batched prefill of the prompt, then one decode step per new token. */
public final class Generator {
    /** Token counts and times of a generation, for tokens-per-second reports. */
    public record Stats(int promptTokens, int generatedTokens, double prefillSeconds, double decodeSeconds) {
        public double prefillTokensPerSecond() {
            return promptTokens / prefillSeconds;
        }

        /** The first generated token comes from the prefill's logits; the others each cost a decode step. */
        public double decodeTokensPerSecond() {
            return generatedTokens > 1 ? (generatedTokens - 1) / decodeSeconds : Double.NaN;
        }
    }

    private Generator() {
    }

    /**
     * Generates up to {@code maxNewTokens} after {@code prompt}, stopping early at a token of {@code stop};
     * each new token (the stop token included) is handed to {@code onToken} as soon as it is chosen.
     */
    public static Stats generate(Decoder decoder, int[] prompt, int maxNewTokens, Sampler sampler, Set<Integer> stop,
                                 IntConsumer onToken) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty (and the tokenizer adds no BOS to start from)");
        }
        int vocab = decoder.config().vocabSize();
        int capacity = prompt.length + maxNewTokens;
        InferenceState state = decoder.newState(capacity);
        long t0 = System.nanoTime();
        float[] logits = decoder.forward(state, prompt, 0, prompt.length, 1);
        long t1 = System.nanoTime();
        int generated = 0;
        int[] one = new int[1];
        while (generated < maxNewTokens) {
            int next = sampler.next(logits, 0, vocab);
            generated++;
            onToken.accept(next);
            if (stop.contains(next) || generated == maxNewTokens) {
                break;
            }
            one[0] = next;
            logits = decoder.forward(state, one, 0, 1, 1);
        }
        long t2 = System.nanoTime();
        return new Stats(prompt.length, generated, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }
}
