package dev.qforge.tokenizer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A tokenizer assembled from the steps of a tokenizer.json, run in HF's order: added tokens are cut out of
 * the raw text first; each remaining stretch is normalized, cut into words by the pre-tokenizer and encoded
 * by BPE; the post-processor adds BOS/EOS. Decoding maps ids to their pieces and runs the decoder.
 * Immutable and safe to share between threads.
 */
public final class PipelineTokenizer implements Tokenizer {
    private final BpeModel model;
    private final Map<Integer, AddedToken> addedById = new HashMap<>();
    private final Map<String, AddedToken> addedByContent = new HashMap<>();
    /** Added tokens matched in the raw text (normalized = false) and in normalized text (normalized = true). */
    private final AddedTokenMatcher rawMatcher;
    private final AddedTokenMatcher normalizedMatcher;
    private final Normalizer normalizer;
    private final PreTokenizer preTokenizer;
    private final int[] prefix;
    private final int[] suffix;
    private final Decoder decoder;
    private final SpecialTokens specialTokens;
    private final boolean cleanUpTokenizationSpaces;
    private final int vocabSize;

    /**
     * @param normalizer   may be null (none)
     * @param preTokenizer may be null (the whole normalized text is one word)
     * @param decoder      may be null (pieces joined with spaces, as HF does without a decoder)
     */
    public PipelineTokenizer(BpeModel model, List<AddedToken> addedTokens, Normalizer normalizer,
                             PreTokenizer preTokenizer, PostProcessor postProcessor, Decoder decoder,
                             SpecialTokens specialTokens, boolean cleanUpTokenizationSpaces) {
        this.model = model;
        int maxId = model.size() - 1;
        List<AddedToken> raw = new ArrayList<>();
        List<AddedToken> normalized = new ArrayList<>();
        for (AddedToken t : addedTokens) {
            addedById.put(t.id(), t);
            addedByContent.putIfAbsent(t.content(), t);
            (t.normalized() ? normalized : raw).add(t);
            maxId = Math.max(maxId, t.id());
        }
        this.rawMatcher = new AddedTokenMatcher(raw);
        this.normalizedMatcher = new AddedTokenMatcher(normalized);
        this.normalizer = normalizer;
        this.preTokenizer = preTokenizer;
        this.prefix = postProcessor.prefix();
        this.suffix = postProcessor.suffix();
        this.decoder = decoder;
        this.specialTokens = specialTokens;
        this.cleanUpTokenizationSpaces = cleanUpTokenizationSpaces;
        this.vocabSize = maxId + 1;
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        IntList out = new IntList(text.length() / 3 + 8);
        if (addSpecialTokens) {
            out.addAll(prefix);
        }
        List<String> words = new ArrayList<>();
        for (AddedTokenMatcher.Segment raw : rawMatcher.split(text)) {
            if (raw.token() != null) {
                out.add(raw.token().id());
                continue;
            }
            String stretch = text.substring(raw.start(), raw.end());
            String normalized = normalizer == null ? stretch : normalizer.normalize(stretch);
            for (AddedTokenMatcher.Segment seg : normalizedMatcher.split(normalized)) {
                if (seg.token() != null) {
                    out.add(seg.token().id());
                    continue;
                }
                String part = normalized.substring(seg.start(), seg.end());
                if (part.isEmpty()) {
                    continue;
                }
                if (preTokenizer == null) {
                    model.encode(part, out);
                } else {
                    words.clear();
                    preTokenizer.split(part, raw.start() == 0 && seg.start() == 0, words);
                    for (String w : words) {
                        model.encode(w, out);
                    }
                }
            }
        }
        if (addSpecialTokens) {
            out.addAll(suffix);
        }
        return out.toArray();
    }

    @Override
    public String decode(int[] ids, boolean skipSpecialTokens) {
        List<String> pieces = new ArrayList<>(ids.length);
        for (int id : ids) {
            AddedToken added = addedById.get(id);
            if (added != null) {
                if (!(skipSpecialTokens && added.special())) {
                    pieces.add(added.content());
                }
                continue;
            }
            String piece = model.token(id);
            if (piece != null) {
                pieces.add(piece);
            }
        }
        return decoder == null ? String.join(" ", pieces) : decoder.decode(pieces);
    }

    @Override
    public String tokenText(int id) {
        AddedToken added = addedById.get(id);
        if (added != null) {
            return added.content();
        }
        String piece = model.token(id);
        if (piece == null) {
            throw new IllegalArgumentException("token id " + id + " is not in the vocabulary (size " + vocabSize + ")");
        }
        return piece;
    }

    @Override
    public OptionalInt tokenId(String tokenText) {
        AddedToken added = addedByContent.get(tokenText);
        if (added != null) {
            return OptionalInt.of(added.id());
        }
        int id = model.id(tokenText);
        return id >= 0 ? OptionalInt.of(id) : OptionalInt.empty();
    }

    @Override
    public int vocabSize() {
        return vocabSize;
    }

    @Override
    public boolean isSpecial(int id) {
        AddedToken added = addedById.get(id);
        return added != null && added.special();
    }

    @Override
    public OptionalInt bosId() {
        return specialTokens.bos();
    }

    @Override
    public OptionalInt eosId() {
        return specialTokens.eos();
    }

    @Override
    public Set<Integer> eosIds() {
        return specialTokens.eosIds();
    }

    @Override
    public boolean addsBos() {
        OptionalInt bos = specialTokens.bos();
        return prefix.length > 0 && bos.isPresent() && prefix[0] == bos.getAsInt();
    }

    @Override
    public boolean cleanUpTokenizationSpaces() {
        return cleanUpTokenizationSpaces;
    }
}
