package dev.qforge.tokenizer;

import dev.qforge.SharedData;
import dev.qforge.format.GgufFile;
import dev.qforge.format.TextFiles;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The tokenizer rebuilt from a GGUF file's metadata gives the ids of the model's tokenizer.json (which
 * llama.cpp's tokenizer also gives on these texts, reference/README.md), and decodes them back.
 */
class GgufTokenizerTest {
    @ParameterizedTest
    @CsvSource({
            "qforge-tiny-llama, qforge-tiny-llama-Q4_K_M.gguf, wikitext-2-raw/wiki.test.raw",
            "qforge-tiny-llama, qforge-tiny-llama-Q8_0.gguf, tricky.txt",
            "stories260K, stories260K-F32.gguf, wikitext-2-raw/wiki.test.raw",
            "stories260K, stories260K-Q2_K.gguf, tinystories/tinystories-train-sample.txt"})
    void sameIdsAsTokenizerJson(String model, String gguf, String text) {
        Path file = SharedData.require("reference/" + model + "/gguf/" + gguf);
        Tokenizer hf = Tokenizer.load(SharedData.require("models/" + model + "/hf"));
        String content = TextFiles.readUtf8(SharedData.require("text/" + text));
        try (GgufFile f = GgufFile.open(file)) {
            Tokenizer fromGguf = GgufTokenizer.from(f);
            int[] expected = hf.encode(content);
            int[] actual = fromGguf.encode(content);
            assertEquals(expected.length, actual.length, "token count");
            assertArrayEquals(expected, actual);
            assertEquals(hf.decode(expected), fromGguf.decode(actual));
            assertEquals(hf.addsBos(), fromGguf.addsBos());
            assertEquals(hf.bosId(), fromGguf.bosId());
        }
    }
}
