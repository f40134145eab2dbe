package dev.qforge.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The BPE model of a Hugging Face tokenizer.json: turns one pre-tokenized word into token ids.
 *
 * <p>A word starts as one symbol per character (a character missing from the vocabulary becomes its UTF-8
 * byte tokens {@code <0xAB>} with byte fallback, else the unknown token, a run of them fused into one when
 * {@code fuse_unk}). Then the adjacent pair with the lowest merge rank is merged, leftmost first, until no
 * pair has a merge. A heap of candidate merges over a linked list of symbols makes that O(n log n) per word,
 * which matters because SentencePiece-style tokenizers have no pre-tokenizer: the whole text is one "word".
 *
 * <p>Two speed-ups keep the ids exactly those of the plain algorithm: results are cached per word, and a long
 * word is cut where no merge can ever join the characters on both sides (no merge (a, b) has a last character
 * and b first character equal to them), since merges on either side of such a cut never interact.
 */
public final class BpeModel {
    private static final int MAX_CACHED_WORD = 256;
    private static final int MAX_CACHE_ENTRIES = 500_000;
    private static final int CUT_WORDS_LONGER_THAN = 64;

    private final Map<String, Integer> vocab;
    private final String[] tokenById;
    private final LongIntMap mergeRanks = new LongIntMap(1024);
    private final int[] mergedIdByRank;
    private final int unkId;
    private final boolean fuseUnk;
    private final boolean byteFallback;
    private final boolean ignoreMerges;
    private final int[] byteTokenIds = new int[256];
    /** Token id of each single-character token, by code point (BMP), -1 for none. */
    private final int[] bmpCharIds = new int[0x10000];
    private final Map<Integer, Integer> astralCharIds = new HashMap<>();
    /** Character pairs (last char of a, first char of b) over all merges (a, b); null when words must not be cut. */
    private final LongIntMap joinableChars;
    private final Map<String, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param vocab        token → id
     * @param merges       merge pairs (left, right) in rank order, rank 0 first
     * @param unkToken     the unknown token, or null for none (unknown characters are then dropped, as in HF)
     * @param fuseUnk      whether a run of unknown characters gives one unknown token
     * @param byteFallback whether unknown characters become {@code <0xAB>} byte tokens
     * @param ignoreMerges whether a word that is itself in the vocabulary is emitted whole (Llama 3)
     * @throws IllegalArgumentException when a merge names a token (or makes one) that is not in the vocabulary
     */
    public BpeModel(Map<String, Integer> vocab, List<String[]> merges, String unkToken, boolean fuseUnk,
                    boolean byteFallback, boolean ignoreMerges) {
        // Not Map.copyOf: its linear probing degrades badly on 150k vocabulary strings (seconds to build).
        this.vocab = new HashMap<>(vocab);
        int maxId = -1;
        for (int id : vocab.values()) {
            if (id < 0) {
                throw new IllegalArgumentException("vocabulary has a negative id " + id);
            }
            maxId = Math.max(maxId, id);
        }
        tokenById = new String[maxId + 1];
        Arrays.fill(bmpCharIds, -1);
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            String token = e.getKey();
            tokenById[e.getValue()] = token;
            if (token.codePointCount(0, token.length()) == 1) {
                int cp = token.codePointAt(0);
                if (cp < 0x10000) {
                    bmpCharIds[cp] = e.getValue();
                } else {
                    astralCharIds.put(cp, e.getValue());
                }
            }
        }
        if (unkToken != null) {
            Integer id = vocab.get(unkToken);
            if (id == null) {
                throw new IllegalArgumentException("unk_token '" + unkToken + "' is not in the vocabulary");
            }
            unkId = id;
        } else {
            unkId = -1;
        }
        this.fuseUnk = fuseUnk;
        this.byteFallback = byteFallback;
        this.ignoreMerges = ignoreMerges;
        for (int b = 0; b < 256; b++) {
            Integer id = vocab.get(String.format("<0x%02X>", b));
            byteTokenIds[b] = id == null ? -1 : id;
        }

        mergedIdByRank = new int[merges.size()];
        LongIntMap joinable = new LongIntMap(merges.size());
        boolean cuttable = true;
        for (int rank = 0; rank < merges.size(); rank++) {
            String left = merges.get(rank)[0];
            String right = merges.get(rank)[1];
            int a = idOf(left, rank, left + " " + right);
            int b = idOf(right, rank, left + " " + right);
            int merged = idOf(left + right, rank, left + " " + right);
            // A later duplicate of the same pair replaces the earlier rank, as HF's map insertion does.
            mergeRanks.put(LongIntMap.pair(a, b), rank);
            mergedIdByRank[rank] = merged;
            if (left.isEmpty() || right.isEmpty() || isByteTokenText(left) || isByteTokenText(right) || a == unkId || b == unkId) {
                cuttable = false; // such symbols do not stand for the word's own characters
            } else {
                joinable.put(LongIntMap.pair(left.codePointBefore(left.length()), right.codePointAt(0)), 1);
            }
        }
        joinableChars = cuttable ? joinable : null;
    }

    private int idOf(String token, int rank, String merge) {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new IllegalArgumentException("merge " + rank + " '" + merge + "' uses '" + token
                    + "', which is not in the vocabulary");
        }
        return id;
    }

    /** Largest model token id + 1. */
    public int size() {
        return tokenById.length;
    }

    /** The token text of id, or null when the model has no such id. */
    public String token(int id) {
        return id >= 0 && id < tokenById.length ? tokenById[id] : null;
    }

    /** The id of token, or -1. */
    public int id(String token) {
        Integer id = vocab.get(token);
        return id == null ? -1 : id;
    }

    /** Appends the ids of one pre-tokenized word. */
    void encode(String word, IntList out) {
        if (word.isEmpty()) {
            return;
        }
        if (ignoreMerges) {
            Integer whole = vocab.get(word);
            if (whole != null) {
                out.add(whole);
                return;
            }
        }
        if (word.length() > CUT_WORDS_LONGER_THAN && joinableChars != null) {
            encodeInPieces(word, out);
        } else {
            encodeCached(word, out);
        }
    }

    public int[] encode(String word) {
        IntList out = new IntList(word.length());
        encode(word, out);
        return out.toArray();
    }

    private void encodeInPieces(String word, IntList out) {
        int start = 0;
        int previous = word.codePointAt(0);
        for (int i = Character.charCount(previous); i < word.length(); ) {
            int cp = word.codePointAt(i);
            // A character with no token of its own may become <unk> and fuse with its neighbour: never cut after it.
            if (charId(previous) >= 0 && !joinableChars.contains(LongIntMap.pair(previous, cp))) {
                encodeCached(word.substring(start, i), out);
                start = i;
            }
            previous = cp;
            i += Character.charCount(cp);
        }
        encodeCached(word.substring(start), out);
    }

    private void encodeCached(String word, IntList out) {
        int[] ids = cache.get(word);
        if (ids == null) {
            ids = merge(word);
            if (word.length() <= MAX_CACHED_WORD) {
                if (cache.size() >= MAX_CACHE_ENTRIES) {
                    cache.clear(); // crude but bounded; real text reaches far fewer distinct words
                }
                cache.put(word, ids);
            }
        }
        out.addAll(ids);
    }

    private int charId(int cp) {
        if (cp < 0x10000) {
            return bmpCharIds[cp];
        }
        Integer id = astralCharIds.get(cp);
        return id == null ? -1 : id;
    }

    /** The plain BPE algorithm on one word. */
    private int[] merge(String word) {
        int[] ids = initialSymbols(word);
        int n = ids.length;
        if (n < 2 || mergedIdByRank.length == 0) {
            return ids;
        }
        int[] prev = new int[n];
        int[] next = new int[n];
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        LongMinHeap queue = new LongMinHeap();
        for (int i = 0; i + 1 < n; i++) {
            int rank = mergeRanks.get(LongIntMap.pair(ids[i], ids[i + 1]));
            if (rank >= 0) {
                queue.push(((long) rank << 32) | i);
            }
        }
        int alive = n;
        while (!queue.isEmpty()) {
            long top = queue.pop();
            int rank = (int) (top >>> 32);
            int pos = (int) top;
            int right = next[pos];
            // Entries go stale when a neighbour merged meanwhile; the pair's rank tells whether it still holds.
            if (ids[pos] < 0 || right < 0 || mergeRanks.get(LongIntMap.pair(ids[pos], ids[right])) != rank) {
                continue;
            }
            ids[pos] = mergedIdByRank[rank];
            ids[right] = -1;
            alive--;
            int after = next[right];
            next[pos] = after;
            if (after >= 0) {
                prev[after] = pos;
            }
            int before = prev[pos];
            if (before >= 0) {
                int r = mergeRanks.get(LongIntMap.pair(ids[before], ids[pos]));
                if (r >= 0) {
                    queue.push(((long) r << 32) | before);
                }
            }
            if (after >= 0) {
                int r = mergeRanks.get(LongIntMap.pair(ids[pos], ids[after]));
                if (r >= 0) {
                    queue.push(((long) r << 32) | pos);
                }
            }
        }
        int[] result = new int[alive];
        for (int i = 0, j = 0; i >= 0; i = next[i]) {
            result[j++] = ids[i];
        }
        return result;
    }

    private int[] initialSymbols(String word) {
        IntList symbols = new IntList(word.length() + 4);
        boolean pendingUnk = false;
        for (int i = 0; i < word.length(); ) {
            int cp = word.codePointAt(i);
            i += Character.charCount(cp);
            int id = charId(cp);
            if (id >= 0) {
                if (pendingUnk) {
                    symbols.add(unkId);
                    pendingUnk = false;
                }
                symbols.add(id);
                continue;
            }
            if (byteFallback && addByteTokens(cp, symbols)) {
                // HF leaves a pending <unk> pending here, so it lands after these bytes; we do the same.
                continue;
            }
            if (unkId >= 0) {
                if (pendingUnk && !fuseUnk) {
                    symbols.add(unkId);
                }
                pendingUnk = true;
            }
        }
        if (pendingUnk) {
            symbols.add(unkId);
        }
        return symbols.toArray();
    }

    private boolean addByteTokens(int cp, IntList symbols) {
        byte[] bytes = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
        for (byte b : bytes) {
            if (byteTokenIds[b & 0xFF] < 0) {
                return false;
            }
        }
        for (byte b : bytes) {
            symbols.add(byteTokenIds[b & 0xFF]);
        }
        return true;
    }

    /** Whether token is a byte-fallback token such as {@code <0x0A>}. */
    static boolean isByteTokenText(String token) {
        return token.length() == 6 && token.startsWith("<0x") && token.charAt(5) == '>'
                && Character.digit(token.charAt(3), 16) >= 0 && Character.digit(token.charAt(4), 16) >= 0;
    }
}
