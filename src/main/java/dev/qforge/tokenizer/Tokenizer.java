package dev.qforge.tokenizer;


import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Text to token ids and back, exactly as the model's Hugging Face tokenizer does it.
 *
 * <p>Decoding is exact: {@code decode(encode(text, false))} gives text back for every byte-fallback or
 * byte-level tokenizer. transformers' optional {@code clean_up_tokenization_spaces} (which turns " ." into "."
 * and so breaks that round trip) is not applied; see {@link #cleanUpTokenizationSpaces()} and
 * {@link TokenizationSpaces#cleanUp(String)} for callers that want transformers' output.
 */
public interface Tokenizer {
    /**
     * Reads tokenizer.json from modelDir (or modelDir itself when it is that file), plus tokenizer_config.json and
     * generation_config.json beside it when present.
     *
     * @throws dev.qforge.QforgeException when a file is missing, malformed or uses an unsupported feature
     */
    static Tokenizer load(Path modelDir) {
        return TokenizerJson.load(modelDir);
    }

    /** Like HF {@code encode(text)}: with the post-processor's special tokens (BOS where the model adds one). */
    default int[] encode(String text) {
        return encode(text, true);
    }

    int[] encode(String text, boolean addSpecialTokens);

    /** Like HF {@code decode(ids, skip_special_tokens=false)}; ids without a token are skipped, as in HF. */
    default String decode(int[] ids) {
        return decode(ids, false);
    }

    String decode(int[] ids, boolean skipSpecialTokens);

    /** The raw vocabulary piece of id ("Ġthe", "▁the", "&lt;0x0A&gt;", "&lt;s&gt;"). */
    String tokenText(int id);

    /** The id of a raw vocabulary piece or added token. */
    OptionalInt tokenId(String tokenText);

    /** Number of token ids including added tokens (largest id + 1). */
    int vocabSize();

    /** Whether id is an added token marked special (BOS, EOS, chat markers...). */
    boolean isSpecial(int id);

    OptionalInt bosId();

    OptionalInt eosId();

    /** Every id that should stop generation (generation_config.json's eos_token_id may be a list). */
    Set<Integer> eosIds();

    /** Whether {@link #encode(String)} prepends BOS. */
    boolean addsBos();

    /** tokenizer_config.json's clean_up_tokenization_spaces (reported, never applied by decode). */
    boolean cleanUpTokenizationSpaces();

    /** A decoder that takes ids one at a time and only ever returns whole characters. */
    default StreamingDecoder streamingDecoder() {
        return new StreamingDecoder(this, false);
    }

    /** A streaming decoder that leaves out special tokens (BOS, EOS, chat markers) when skipSpecialTokens. */
    default StreamingDecoder streamingDecoder(boolean skipSpecialTokens) {
        return new StreamingDecoder(this, skipSpecialTokens);
    }
}
