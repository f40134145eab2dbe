package dev.qforge.tokenizer;

import dev.qforge.QforgeException;
import dev.qforge.format.GgufFile;
import dev.qforge.format.GgufMetadata;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * The tokenizer a GGUF file carries in its metadata ({@code tokenizer.ggml.*}), rebuilt as the same BPE
 * pipeline a tokenizer.json gives, so a GGUF model runs without its Hugging Face directory.
 * <ul>
 * <li>{@code llama} (SentencePiece BPE): pieces with scores; the merges are every split of a piece into
 * two pieces of the vocabulary, ranked by the merged piece's score (highest first) — SentencePiece merges
 * the pair whose result scores highest, so this ranking reproduces it; byte fallback to {@code <0xAB>}
 * pieces; "▁" for spaces with one prepended unless {@code add_space_prefix} is false.</li>
 * <li>{@code gpt2} (byte-level BPE): pieces and merges as stored; the pre-tokenizer regex chosen by
 * {@code tokenizer.ggml.pre}.</li>
 * </ul>
 */
public final class GgufTokenizer {
    private static final int NORMAL = 1;
    private static final int CONTROL = 3;
    private static final int USER_DEFINED = 4;
    private static final int BYTE = 6;
    private static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private static final String QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    private GgufTokenizer() {
    }

    public static Tokenizer from(GgufFile file) {
        GgufMetadata m = file.metadata();
        String model = m.getString("tokenizer.ggml.model", null);
        if (model == null) {
            throw new QforgeException(file.path() + ": no tokenizer in the metadata (tokenizer.ggml.model); pass --tokenizer DIR");
        }
        List<String> tokens = m.getStringArray("tokenizer.ggml.tokens");
        int[] types = m.contains("tokenizer.ggml.token_type") ? m.getIntArray("tokenizer.ggml.token_type") : null;
        if (types != null && types.length != tokens.size()) {
            throw new QforgeException(file.path() + ": tokenizer.ggml.token_type has " + types.length + " entries for "
                    + tokens.size() + " tokens");
        }
        Map<String, Integer> vocab = new HashMap<>();
        for (int i = 0; i < tokens.size(); i++) {
            vocab.putIfAbsent(tokens.get(i), i);
        }
        List<AddedToken> added = new ArrayList<>();
        for (int i = 0; types != null && i < types.length; i++) {
            if (types[i] == CONTROL || types[i] == USER_DEFINED) {
                added.add(new AddedToken(i, tokens.get(i), types[i] == CONTROL, false, false, false, false));
            }
        }
        OptionalInt bos = optionalId(m, "tokenizer.ggml.bos_token_id");
        OptionalInt eos = optionalId(m, "tokenizer.ggml.eos_token_id");
        return switch (model) {
            case "llama" -> sentencePiece(file, m, tokens, types, vocab, added, bos, eos);
            case "gpt2" -> byteLevel(file, m, vocab, added, bos, eos);
            default -> throw new QforgeException(file.path() + ": tokenizer model '" + model
                    + "' is not supported (llama, gpt2); pass --tokenizer DIR");
        };
    }

    private static Tokenizer sentencePiece(GgufFile file, GgufMetadata m, List<String> tokens, int[] types,
                                           Map<String, Integer> vocab, List<AddedToken> added, OptionalInt bos, OptionalInt eos) {
        float[] scores = m.getFloatArray("tokenizer.ggml.scores");
        if (scores.length != tokens.size()) {
            throw new QforgeException(file.path() + ": tokenizer.ggml.scores has " + scores.length + " entries for "
                    + tokens.size() + " tokens");
        }
        record Merge(String left, String right, float score, int merged, int leftId) {
        }
        List<Merge> candidates = new ArrayList<>();
        for (int id = 0; id < tokens.size(); id++) {
            if (types != null && types[id] != NORMAL && types[id] != USER_DEFINED) {
                continue;
            }
            String piece = tokens.get(id);
            for (int k = piece.offsetByCodePoints(0, 1); k < piece.length(); k = piece.offsetByCodePoints(k, 1)) {
                Integer l = vocab.get(piece.substring(0, k));
                Integer r = vocab.get(piece.substring(k));
                if (l != null && r != null && isMergeable(types, l) && isMergeable(types, r)) {
                    candidates.add(new Merge(piece.substring(0, k), piece.substring(k), scores[id], id, l));
                }
            }
        }
        candidates.sort(Comparator.comparingDouble((Merge c) -> -c.score()).thenComparingInt(Merge::merged)
                .thenComparingInt(Merge::leftId));
        List<String[]> merges = new ArrayList<>(candidates.size());
        for (Merge c : candidates) {
            merges.add(new String[]{c.left(), c.right()});
        }
        OptionalInt unk = optionalId(m, "tokenizer.ggml.unknown_token_id");
        BpeModel bpe = new BpeModel(vocab, merges, unk.isPresent() ? tokens.get(unk.getAsInt()) : null, true, true, false);
        List<Normalizer> steps = new ArrayList<>();
        if (m.getBool("tokenizer.ggml.add_space_prefix", true)) {
            steps.add(new Normalizer.Prepend("▁"));
        }
        steps.add(Normalizer.Replace.literal(" ", "▁"));
        Decoder decoder = new Decoder.Sequence(List.of(new Decoder.Replace("▁", " "), new Decoder.ByteFallback(),
                new Decoder.Fuse(), new Decoder.Strip(' ', 1, 0)));
        return new PipelineTokenizer(bpe, added, new Normalizer.Sequence(steps), null,
                postProcessor(m, bos, eos, true), decoder, new SpecialTokens(bos, eos, eosSet(eos)), false);
    }

    private static Tokenizer byteLevel(GgufFile file, GgufMetadata m, Map<String, Integer> vocab, List<AddedToken> added,
                                       OptionalInt bos, OptionalInt eos) {
        List<String[]> merges = new ArrayList<>();
        for (String merge : m.getStringArray("tokenizer.ggml.merges")) {
            int space = merge.indexOf(' ', 1);
            if (space < 0) {
                throw new QforgeException(file.path() + ": merge '" + merge + "' is not two pieces separated by a space");
            }
            merges.add(new String[]{merge.substring(0, space), merge.substring(space + 1)});
        }
        String pre = m.getString("tokenizer.ggml.pre", "default");
        PreTokenizer preTokenizer;
        Normalizer normalizer = null;
        boolean ignoreMerges = false;
        switch (pre) {
            case "default", "gpt-2" -> preTokenizer = new PreTokenizer.ByteLevel(false, true);
            case "llama-bpe", "llama3" -> {
                preTokenizer = splitThenBytes(LLAMA3_REGEX);
                ignoreMerges = true;
            }
            case "qwen2" -> {
                preTokenizer = splitThenBytes(QWEN2_REGEX);
                normalizer = new Normalizer.Unicode(java.text.Normalizer.Form.NFC);
            }
            default -> throw new QforgeException(file.path() + ": pre-tokenizer '" + pre
                    + "' is not supported (gpt-2, llama-bpe, qwen2); pass --tokenizer DIR");
        }
        BpeModel bpe;
        try {
            bpe = new BpeModel(vocab, merges, null, false, false, ignoreMerges);
        } catch (IllegalArgumentException e) {
            throw new QforgeException(file.path() + ": tokenizer.ggml.merges: " + e.getMessage());
        }
        return new PipelineTokenizer(bpe, added, normalizer, preTokenizer, postProcessor(m, bos, eos, false),
                new Decoder.ByteLevel(), new SpecialTokens(bos, eos, eosSet(eos)), false);
    }

    private static PreTokenizer splitThenBytes(String regex) {
        return new PreTokenizer.Sequence(List.of(
                new PreTokenizer.Split(PreTokenizer.compileRegex(regex), SplitBehavior.ISOLATED, false),
                new PreTokenizer.ByteLevel(false, false)));
    }

    private static boolean isMergeable(int[] types, int id) {
        return types == null || types[id] == NORMAL || types[id] == USER_DEFINED;
    }

    private static PostProcessor postProcessor(GgufMetadata m, OptionalInt bos, OptionalInt eos, boolean bosByDefault) {
        boolean addBos = m.getBool("tokenizer.ggml.add_bos_token", bosByDefault) && bos.isPresent();
        boolean addEos = m.getBool("tokenizer.ggml.add_eos_token", false) && eos.isPresent();
        return new PostProcessor(addBos ? new int[]{bos.getAsInt()} : new int[0], addEos ? new int[]{eos.getAsInt()} : new int[0]);
    }

    private static OptionalInt optionalId(GgufMetadata m, String key) {
        return m.contains(key) ? OptionalInt.of(m.getInt(key)) : OptionalInt.empty();
    }

    private static Set<Integer> eosSet(OptionalInt eos) {
        return eos.isPresent() ? Set.of(eos.getAsInt()) : Set.of();
    }
}
