package dev.qforge.tokenizer;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The model's BOS and EOS ids (from tokenizer_config.json and generation_config.json).
 *
 * @param eosIds every id that ends generation: eos plus generation_config's eos_token_id list
 */
public record SpecialTokens(OptionalInt bos, OptionalInt eos, Set<Integer> eosIds) {
    public SpecialTokens {
        eosIds = Collections.unmodifiableSet(new LinkedHashSet<>(eosIds)); // keeps the config's order
    }
}
