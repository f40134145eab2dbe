package dev.qforge.tokenizer;

/**
 * What the post-processor of a tokenizer.json adds around a single sequence when special tokens are wanted:
 * TemplateProcessing "[BOS] $A" gives prefix [BOS]; GPT-2's ByteLevel processor adds nothing.
 */
public record PostProcessor(int[] prefix, int[] suffix) {
    public static final PostProcessor NONE = new PostProcessor(new int[0], new int[0]);

    public PostProcessor {
        prefix = prefix.clone();
        suffix = suffix.clone();
    }

    @Override
    public int[] prefix() {
        return prefix.clone();
    }

    @Override
    public int[] suffix() {
        return suffix.clone();
    }
}
