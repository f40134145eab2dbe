package dev.qforge.tokenizer;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading tokenizer.json and its companion configs; every user-fixable problem is one line naming the file. */
class TokenizerJsonTest {
    @TempDir
    Path dir;

    /** A valid minimal byte-level-free BPE file: vocab a b ab, one merge; the model part replaceable. */
    private static String tokenizerJson(String model) {
        return "{\"added_tokens\": [{\"id\": 3, \"content\": \"<eos>\", \"special\": true, \"normalized\": false}],"
                + " \"normalizer\": null, \"pre_tokenizer\": null, \"post_processor\": null, \"decoder\": null,"
                + " \"model\": " + model + "}";
    }

    private static final String MODEL = "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}";

    private Path write(String name, String text) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, text);
        return p;
    }

    private QforgeException loadFails() {
        QforgeException e = assertThrows(QforgeException.class, () -> Tokenizer.load(dir));
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        return e;
    }

    private void assertNames(QforgeException e, String file, String... words) {
        assertTrue(e.getMessage().startsWith(dir.resolve(file).toString() + ": "), e.getMessage());
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), "'" + w + "' in: " + e.getMessage());
        }
    }

    @Test
    void minimalFileLoads() throws IOException {
        write("tokenizer.json", tokenizerJson(MODEL));
        Tokenizer t = Tokenizer.load(dir);
        assertArrayEquals(new int[]{2, 0, 3}, t.encode("aba<eos>"));
        assertEquals(4, t.vocabSize());
        assertEquals("ab a <eos>", t.decode(new int[]{2, 0, 3})); // no decoder: pieces joined by spaces, as in HF
        assertFalse(t.addsBos());
        assertArrayEquals(t.encode("ab"), Tokenizer.load(dir.resolve("tokenizer.json")).encode("ab"));
    }

    @Test
    void missingFile() {
        assertNames(loadFails(), "tokenizer.json", "no such file");
        QforgeException e = assertThrows(QforgeException.class, () -> Tokenizer.load(dir.resolve("no-such-model")));
        assertTrue(e.getMessage().startsWith(dir.resolve("no-such-model").resolve("tokenizer.json") + ": "), e.getMessage());
    }

    @Test
    void invalidJson() throws IOException {
        write("tokenizer.json", "{\"model\": {\"type\": \"BPE\",\n \"vocab\": {\"a\": 0,, }}}");
        assertNames(loadFails(), "tokenizer.json", "invalid JSON", "line 2");
    }

    @Test
    void notAnObject() throws IOException {
        write("tokenizer.json", "[1, 2]");
        assertNames(loadFails(), "tokenizer.json", "object");
    }

    @Test
    void missingModel() throws IOException {
        write("tokenizer.json", "{\"added_tokens\": []}");
        assertNames(loadFails(), "tokenizer.json", "model");
    }

    @Test
    void unknownModelType() throws IOException {
        write("tokenizer.json", tokenizerJson("{\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0]]}"));
        assertNames(loadFails(), "tokenizer.json", "Unigram", "not supported");
    }

    @Test
    void mergeOfUnknownToken() throws IOException {
        write("tokenizer.json", tokenizerJson("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\", \"a c\"]}"));
        assertNames(loadFails(), "tokenizer.json", "merge 1", "'c'");
    }

    @Test
    void mergeWhoseResultIsNotInTheVocabulary() throws IOException {
        write("tokenizer.json", tokenizerJson("{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [[\"a\", \"b\"]]}"));
        assertNames(loadFails(), "tokenizer.json", "'ab'");
    }

    @Test
    void malformedMerge() throws IOException {
        write("tokenizer.json", tokenizerJson("{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a\"]}"));
        assertNames(loadFails(), "tokenizer.json", "merges[0]");
    }

    @Test
    void unsupportedSteps() throws IOException {
        for (String[] step : List.of(
                new String[]{"normalizer", "{\"type\": \"BertNormalizer\"}", "BertNormalizer"},
                new String[]{"pre_tokenizer", "{\"type\": \"UnicodeScripts\"}", "UnicodeScripts"},
                new String[]{"post_processor", "{\"type\": \"Mystery\"}", "Mystery"},
                new String[]{"decoder", "{\"type\": \"WordPiece\"}", "WordPiece"},
                new String[]{"pre_tokenizer", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}", "regex"})) {
            write("tokenizer.json", tokenizerJson(MODEL).replace("\"" + step[0] + "\": null", "\"" + step[0] + "\": " + step[1]));
            assertNames(loadFails(), "tokenizer.json", step[0], step[2]);
        }
    }

    @Test
    void invalidCompanionConfig() throws IOException {
        write("tokenizer.json", tokenizerJson(MODEL));
        write("tokenizer_config.json", "{\"bos_token\": ");
        assertNames(loadFails(), "tokenizer_config.json", "invalid JSON");
        Files.delete(dir.resolve("tokenizer_config.json"));
        write("generation_config.json", "{\"eos_token_id\": \"x\"}");
        assertNames(loadFails(), "generation_config.json", "eos_token_id");
    }

    @Test
    void specialTokensFromConfigs() throws IOException {
        write("tokenizer.json", tokenizerJson(MODEL));
        write("tokenizer_config.json", "{\"bos_token\": {\"content\": \"a\", \"__type\": \"AddedToken\"}, \"eos_token\": \"<eos>\","
                + " \"clean_up_tokenization_spaces\": true}");
        write("generation_config.json", "{\"bos_token_id\": 1, \"eos_token_id\": [1, 3]}");
        Tokenizer t = Tokenizer.load(dir);
        assertEquals(OptionalInt.of(0), t.bosId()); // tokenizer_config wins over generation_config
        assertEquals(OptionalInt.of(3), t.eosId());
        assertEquals(List.of(3, 1), List.copyOf(t.eosIds()));
        assertTrue(t.cleanUpTokenizationSpaces());
        assertFalse(t.addsBos()); // no post-processor: nothing added
    }

    @Test
    void llamaClassFollowsAddBosToken() throws IOException {
        String withTemplate = tokenizerJson(MODEL).replace("\"post_processor\": null",
                "\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<eos>\", \"type_id\": 0}},"
                        + " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"special_tokens\": {\"<eos>\": {\"id\": \"<eos>\", \"ids\": [3]}}}");
        write("tokenizer.json", withTemplate);
        Tokenizer template = Tokenizer.load(dir);
        assertArrayEquals(new int[]{3, 0}, template.encode("a"));
        // transformers' LlamaTokenizerFast rebuilds the template from add_bos_token / add_eos_token.
        write("tokenizer_config.json", "{\"tokenizer_class\": \"LlamaTokenizer\", \"bos_token\": \"b\", \"eos_token\": \"<eos>\","
                + " \"add_bos_token\": false, \"add_eos_token\": true}");
        Tokenizer llama = Tokenizer.load(dir);
        assertArrayEquals(new int[]{0, 3}, llama.encode("a"));
        assertFalse(llama.addsBos());
    }
}
