package dev.qforge.tokenizer;

/**
 * transformers' clean_up_tokenization: removes the space that word-level tokenizers of old left before
 * punctuation and English contractions. Lossy (it also changes text that had those spaces), hence never
 * applied by {@link Tokenizer#decode}; offered for callers that must reproduce transformers' output.
 */
public final class TokenizationSpaces {
    private TokenizationSpaces() {
    }

    public static String cleanUp(String text) {
        return text.replace(" .", ".")
                .replace(" ?", "?")
                .replace(" !", "!")
                .replace(" ,", ",")
                .replace(" ' ", "'")
                .replace(" n't", "n't")
                .replace(" 'm", "'m")
                .replace(" 's", "'s")
                .replace(" 've", "'ve")
                .replace(" 're", "'re");
    }
}
