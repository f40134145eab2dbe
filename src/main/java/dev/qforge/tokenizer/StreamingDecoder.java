package dev.qforge.tokenizer;

import java.util.Arrays;

/**
 * Decodes ids one at a time during generation. A token may end in the middle of a UTF-8 character (byte
 * fallback tokens, byte-level pieces), and decoders such as SentencePiece's drop the first token's leading
 * space, so single tokens cannot be decoded on their own. Instead each new id is decoded together with the
 * ids since the last emitted text (plus one token of context), and only the part beyond what that context
 * decodes to is returned, held back while it ends in U+FFFD (an incomplete character). The concatenation of
 * all returned strings plus {@link #flush()} equals {@code decode} of the whole sequence.
 */
public final class StreamingDecoder {
    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;
    private int[] ids = new int[16];
    private int count;
    /** ids[0..contextCount) were already emitted; they only give context. */
    private int contextCount;
    private String contextText = "";

    StreamingDecoder(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    private String decode(int[] window) {
        return tokenizer.decode(window, skipSpecialTokens);
    }

    /**
     * Starts from context ids that are not to be emitted (say, the end of the prompt), so that the first
     * generated token is decoded as a continuation: SentencePiece-style decoders otherwise drop its leading space.
     */
    public void prime(int... contextIds) {
        reset();
        ids = Arrays.copyOf(contextIds, Math.max(16, contextIds.length * 2));
        count = contextIds.length;
        contextCount = count;
        contextText = decode(Arrays.copyOf(ids, count));
    }

    /** Adds one id; returns the newly completed text, possibly empty. */
    public String push(int id) {
        if (count == ids.length) {
            ids = Arrays.copyOf(ids, count * 2);
        }
        ids[count++] = id;
        String text = decode(Arrays.copyOf(ids, count));
        if (text.length() <= contextText.length() || text.endsWith("\uFFFD") || !text.startsWith(contextText)) {
            return "";
        }
        String fresh = text.substring(contextText.length());
        // Keep only the ids after the old context: they become the context of what comes next.
        int keep = count - contextCount;
        System.arraycopy(ids, contextCount, ids, 0, keep);
        count = keep;
        contextCount = keep;
        contextText = decode(Arrays.copyOf(ids, count));
        return fresh;
    }

    /** Returns whatever is held back (an incomplete character shows as U+FFFD, as in a full decode) and resets. */
    public String flush() {
        String rest = "";
        if (count > contextCount) {
            String text = decode(Arrays.copyOf(ids, count));
            rest = text.startsWith(contextText) ? text.substring(contextText.length()) : text;
        }
        reset();
        return rest;
    }

    /** Forgets everything, to start a new sequence. */
    public void reset() {
        count = 0;
        contextCount = 0;
        contextText = "";
    }
}
