package dev.qforge.tokenizer;

/**
 * A token of tokenizer.json's added_tokens: matched in the raw text before the model runs, so it is never
 * cut by BPE. special tokens (BOS, EOS, chat markers) can be skipped when decoding.
 *
 * @param lstrip     the match also takes the whitespace on its left
 * @param rstrip     the match also takes the whitespace on its right
 * @param singleWord only matched when not inside a word
 * @param normalized matched in the normalized text rather than the raw text
 */
public record AddedToken(int id, String content, boolean special, boolean lstrip, boolean rstrip,
                         boolean singleWord, boolean normalized) {
}
