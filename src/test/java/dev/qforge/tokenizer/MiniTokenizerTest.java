package dev.qforge.tokenizer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The algorithms on small hand-made tokenizers whose right answer can be worked out by hand. */
class MiniTokenizerTest {
    @TempDir
    Path dir;

    private Tokenizer sentencePiece(boolean byteFallback, boolean fuseUnk) {
        return MiniTokenizers.load(dir, MiniTokenizers.sentencePiece(
                List.of("▁", "a", "b", "c", "ab", "▁ab", "▁c", "aa"), List.of("a b", "▁ ab", "▁ c", "a a"),
                byteFallback, fuseUnk));
    }

    private int id(Tokenizer t, String piece) {
        return t.tokenId(piece).orElseThrow();
    }

    @Test
    void sentencePieceMergesByRankAndPrependsSpace() {
        Tokenizer t = sentencePiece(true, true);
        assertArrayEquals(new int[]{1, id(t, "▁ab"), id(t, "▁c")}, t.encode("ab c"));
        assertArrayEquals(new int[]{id(t, "▁ab"), id(t, "▁c")}, t.encode("ab c", false));
        assertEquals("ab c", t.decode(t.encode("ab c", false)));
        assertEquals("<s> ab c", t.decode(t.encode("ab c"))); // like HF decode(skip_special_tokens=False)
        assertEquals("ab c", t.decode(t.encode("ab c"), true));
    }

    @Test
    void equalRanksMergeLeftmostFirst() {
        Tokenizer t = sentencePiece(true, true);
        assertArrayEquals(new int[]{id(t, "▁"), id(t, "aa"), id(t, "a")}, t.encode("aaa", false));
    }

    @Test
    void byteFallbackSpellsUnknownCharactersAsUtf8Bytes() {
        Tokenizer t = sentencePiece(true, true);
        int[] ids = t.encode("é", false);
        assertArrayEquals(new int[]{id(t, "▁"), id(t, "<0xC3>"), id(t, "<0xA9>")}, ids);
        assertEquals("é", t.decode(ids));
        assertEquals("\uFFFD", t.decode(new int[]{id(t, "<0xC3>")})); // an unfinished character
    }

    @Test
    void unknownCharactersFuseIntoOneUnk() {
        Tokenizer fused = sentencePiece(false, true);
        assertArrayEquals(new int[]{id(fused, "▁"), 0, id(fused, "a")}, fused.encode("xyza", false));
        Tokenizer separate = sentencePiece(false, false);
        assertArrayEquals(new int[]{id(separate, "▁"), 0, 0, 0, id(separate, "a")}, separate.encode("xyza", false));
    }

    @Test
    void longWordsCutWhereNoMergeCanJoinGiveTheSameIds() {
        Tokenizer t = sentencePiece(true, true);
        StringBuilder text = new StringBuilder();
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            text.append(i % 3 == 0 ? "ab " : i % 3 == 1 ? "c " : "aaa ");
        }
        int[] whole = t.encode(text.toString(), false);
        for (String word : text.toString().split(" ")) {
            for (int id : t.encode(word, false)) {
                expected.add(id);
            }
        }
        expected.add(id(t, "▁")); // the trailing space
        assertArrayEquals(expected.stream().mapToInt(Integer::intValue).toArray(), whole);
    }

    @Test
    void addedTokensAreCutOutBeforeTheModel() {
        Tokenizer t = sentencePiece(true, true);
        // Legacy Llama behaviour: each stretch between added tokens gets its own "▁".
        assertArrayEquals(new int[]{1, id(t, "▁ab"), 2, id(t, "▁c")}, t.encode("ab</s>c"));
    }

    @Test
    void addedTokenFlags(@TempDir Path other) {
        ObjectNode json = MiniTokenizers.byteLevel(List.of("Ġx"), List.of("Ġ x"));
        ArrayNode added = (ArrayNode) json.get("added_tokens");
        added.addObject().put("id", 258).put("content", "[L]").put("lstrip", true).put("special", true).put("normalized", false);
        added.addObject().put("id", 259).put("content", "[R]").put("rstrip", true).put("special", true).put("normalized", false);
        added.addObject().put("id", 260).put("content", "w").put("single_word", true).put("special", false).put("normalized", false);
        added.addObject().put("id", 261).put("content", "[LONGER]").put("special", true).put("normalized", false);
        added.addObject().put("id", 262).put("content", "[LONG").put("special", true).put("normalized", false);
        Tokenizer t = MiniTokenizers.load(other, json);
        int x = 'x';
        assertArrayEquals(new int[]{x, 258, x}, t.encode("x  [L]x"));
        assertArrayEquals(new int[]{x, 259, x}, t.encode("x[R]  x"));
        assertArrayEquals(new int[]{256, ' ', 260, 256}, t.encode(" x w x")); // byte ids equal the byte values here
        assertArrayEquals(new int[]{x, 'w', x}, t.encode("xwx")); // inside a word: not the added token
        assertArrayEquals(new int[]{261, 262, 'E', 'R'}, t.encode("[LONGER][LONGER"));
    }

    @Test
    void byteLevelRoundTripsAnyText(@TempDir Path other) {
        Tokenizer t = MiniTokenizers.load(other, MiniTokenizers.byteLevel(List.of("Ġx", "xx"), List.of("Ġ x", "x x")));
        String text = "xx x\t🤖 é\n\n  x<|endoftext|>日本";
        int[] ids = t.encode(text);
        assertEquals(text, t.decode(ids));
        assertEquals(257, ids[0]); // "xx"
        assertEquals(256, ids[1]); // " x"
        StreamingDecoder stream = t.streamingDecoder();
        StringBuilder out = new StringBuilder();
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            String p = stream.push(id);
            pieces.add(p);
            out.append(p);
        }
        out.append(stream.flush());
        assertEquals(text, out.toString());
        assertEquals(false, pieces.stream().anyMatch(p -> p.contains("\uFFFD")));
    }

    @Test
    void streamingHoldsBackHalfCharactersOfByteFallback() {
        Tokenizer t = sentencePiece(true, true);
        int[] ids = t.encode("a€b"); // € = E2 82 AC
        StreamingDecoder stream = t.streamingDecoder();
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            pieces.add(stream.push(id));
        }
        pieces.add(stream.flush());
        assertEquals(List.of("<s>", " ", "a", "", "", "€", "b", ""), pieces);
        assertEquals(t.decode(ids), String.join("", pieces));
        stream.push(id(t, "<0xE2>"));
        assertEquals("\uFFFD", stream.flush()); // an unfinished character comes out as in a full decode
    }

    @Test
    void ignoreMergesEmitsWholeVocabularyWords(@TempDir Path other) {
        // "abc" is in the vocabulary but no merge makes it; with ignore_merges it is still one token.
        ObjectNode json = MiniTokenizers.byteLevel(List.of("ab", "abc"), List.of("a b"));
        Tokenizer plain = MiniTokenizers.load(other, json);
        assertArrayEquals(new int[]{256, 'c'}, plain.encode("abc"));
        ((ObjectNode) json.get("model")).put("ignore_merges", true);
        Tokenizer ignoring = MiniTokenizers.load(other, json);
        assertArrayEquals(new int[]{257}, ignoring.encode("abc"));
    }

    @Test
    void metaspacePreTokenizerWithPrependSchemeFirst(@TempDir Path other) {
        ObjectNode json = MiniTokenizers.sentencePiece(List.of("▁", "a", "b", "▁a", "▁b"), List.of("▁ a", "▁ b"), true, true);
        json.putNull("normalizer");
        json.putObject("pre_tokenizer").put("type", "Metaspace").put("replacement", "▁")
                .put("prepend_scheme", "first").put("split", false);
        json.putObject("decoder").put("type", "Metaspace").put("replacement", "▁").put("prepend_scheme", "first").put("split", false);
        Tokenizer t = MiniTokenizers.load(other, json);
        int a = id(t, "a");
        int spaceA = id(t, "▁a");
        int spaceB = id(t, "▁b");
        assertArrayEquals(new int[]{spaceA, spaceB}, t.encode("a b", false));
        assertArrayEquals(new int[]{spaceA, 2, a, spaceB}, t.encode("a</s>a b", false)); // no "▁" after </s>
        assertEquals("a b", t.decode(new int[]{spaceA, spaceB}));
    }

    @Test
    void mergesAsStringsAndAsPairsAreTheSame(@TempDir Path other) {
        ObjectNode json = MiniTokenizers.byteLevel(List.of("Ġx", "xx"), List.of("Ġ x", "x x"));
        Tokenizer strings = MiniTokenizers.load(other, json);
        ArrayNode pairs = ((ObjectNode) json.get("model")).putArray("merges");
        pairs.addArray().add("Ġ").add("x");
        pairs.addArray().add("x").add("x");
        Tokenizer arrays = MiniTokenizers.load(other, json);
        assertArrayEquals(strings.encode("xxx x xx"), arrays.encode("xxx x xx"));
    }

    @Test
    void streamingAfterAPromptKeepsTheLeadingSpace() {
        Tokenizer t = sentencePiece(true, true);
        StreamingDecoder fresh = t.streamingDecoder();
        assertEquals("c", fresh.push(id(t, "▁c"))); // like decode([▁c]): the first token loses its space
        StreamingDecoder primed = t.streamingDecoder(true);
        primed.prime(t.encode("ab"));
        assertEquals(" c", primed.push(id(t, "▁c")));
        assertEquals("", primed.push(2)); // </s> is special: skipped
        assertEquals(" ab", primed.push(id(t, "▁ab")));
    }
}
