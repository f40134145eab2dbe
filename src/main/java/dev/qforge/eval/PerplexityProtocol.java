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
    LLAMA_CPP("llama.cpp", 512),
    HF("hf", 2048);

    private final String id;
    private final int defaultContext;

    PerplexityProtocol(String id, int defaultContext) {
        this.id = id;
        this.defaultContext = defaultContext;
    }

    /** The name users write: "llama.cpp" or "hf". */
    public String id() {
        return id;
    }

    /** The protocol of a user-written name (also "llamacpp", "gptq"), or a QforgeException naming the choices. */
    public static PerplexityProtocol parse(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "llama.cpp", "llamacpp", "llama-cpp" -> LLAMA_CPP;
            case "hf", "gptq" -> HF;
            default -> throw new dev.qforge.QforgeException("--protocol '" + name + "' is not one of llama.cpp, hf");
        };
    }

    public int defaultContext() {
        return defaultContext;
    }

    /** Index within a chunk of the first position whose next-token prediction is scored. */
    public int firstScoredPosition(int ctx) {
        return this == LLAMA_CPP ? ctx / 2 : 0;
    }
}
