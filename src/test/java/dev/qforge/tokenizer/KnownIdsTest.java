package dev.qforge.tokenizer;

import dev.qforge.SharedData;
import dev.qforge.format.SafetensorsFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.OptionalInt;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Ids, counts and special tokens that shared/data/MANIFEST.md and the reference outputs state. */
class KnownIdsTest {
    @Test
    void gpt2() {
        Tokenizer t = ReferenceTokenizers.tokenizer("gpt2");
        assertArrayEquals(new int[]{15496, 995}, t.encode("Hello world"));
        assertArrayEquals(new int[]{262}, t.encode(" the"));
        assertArrayEquals(new int[]{50256}, t.encode("<|endoftext|>"));
        assertEquals(50257, t.vocabSize());
        assertEquals(OptionalInt.of(50256), t.bosId());
        assertEquals(OptionalInt.of(50256), t.eosId());
        assertFalse(t.addsBos());
        assertFalse(t.cleanUpTokenizationSpaces());
        assertEquals("Ġthe", t.tokenText(262));
    }

    @Test
    void qwen() {
        Tokenizer t = ReferenceTokenizers.tokenizer("qwen2.5");
        assertArrayEquals(new int[]{9707, 11, 1879, 0}, t.encode("Hello, world!"));
        assertArrayEquals(new int[]{151644, 872, 198, 13048, 151645}, t.encode("<|im_start|>user\nHi<|im_end|>"));
        assertEquals(151665, t.vocabSize()); // 151,643 BPE tokens + 22 added tokens; the model pads to 151,936
        assertEquals(OptionalInt.empty(), t.bosId());
        assertEquals(OptionalInt.of(151645), t.eosId());
        assertFalse(t.addsBos());
        assertTrue(t.isSpecial(151644));
        assertFalse(t.isSpecial(151657)); // <tool_call> is added but not special
        assertEquals("<|im_start|>user\nHi<|im_end|>", t.decode(new int[]{151644, 872, 198, 13048, 151645}));
        assertEquals("user\nHi", t.decode(new int[]{151644, 872, 198, 13048, 151645}, true));
    }

    @Test
    void llama3() {
        Tokenizer t = ReferenceTokenizers.tokenizer("llama3");
        assertArrayEquals(new int[]{128000, 9906, 1917}, t.encode("Hello world"));
        assertArrayEquals(new int[]{128000, 128006, 882, 128007, 271, 13347, 128009},
                t.encode("<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"));
        assertArrayEquals(new int[]{9906, 1917}, t.encode("Hello world", false));
        assertEquals(128256, t.vocabSize());
        assertEquals(OptionalInt.of(128000), t.bosId());
        assertEquals(OptionalInt.of(128001), t.eosId());
        assertTrue(t.addsBos());
        assertTrue(t.cleanUpTokenizationSpaces()); // reported, not applied
        assertEquals("<|begin_of_text|>Hello world", t.decode(t.encode("Hello world")));
        assertEquals("Hello world", t.decode(t.encode("Hello world"), true));
        assertEquals("a. b", TokenizationSpaces.cleanUp(t.decode(t.encode("a . b", false))));
    }

    @ParameterizedTest
    @CsvSource({"stories260K, 512", "babyllama-105, 105", "qforge-tiny-llama, 4096"})
    void llama2StyleSpecialTokens(String name, int vocabSize) {
        Tokenizer t = ReferenceTokenizers.tokenizer(name);
        assertEquals(vocabSize, t.vocabSize());
        assertEquals(OptionalInt.of(1), t.bosId());
        assertEquals(OptionalInt.of(2), t.eosId());
        assertEquals(Set.of(2), t.eosIds());
        assertTrue(t.addsBos());
        assertEquals("<s>", t.tokenText(1));
        assertEquals(OptionalInt.of(1), t.tokenId("<s>"));
    }

    @Test
    void promptsOfReferenceOutputs() {
        assertArrayEquals(new int[]{1, 403, 407, 261, 378}, ReferenceTokenizers.tokenizer("stories260K").encode("Once upon a time"));
        Tokenizer tiny = ReferenceTokenizers.tokenizer("qforge-tiny-llama");
        assertArrayEquals(new int[]{1, 346}, tiny.encode("The"));
        Tokenizer baby = ReferenceTokenizers.tokenizer("babyllama-105");
        int[] ids = baby.encode("Once upon a time");
        assertEquals(18, ids.length);
        assertArrayEquals(new int[]{1, 3, 34, 9, 22, 4, 3, 18, 20, 7, 9, 3}, java.util.Arrays.copyOf(ids, 12));
    }

    /** llama.cpp's logits files record the ids llama.cpp gave the prompt files (with BOS); they equal HF's. */
    @ParameterizedTest
    @CsvSource({"stories260K, once", "stories260K, stories", "stories260K, wiki",
            "qforge-tiny-llama, once", "qforge-tiny-llama, stories", "qforge-tiny-llama, wiki"})
    void promptFilesLikeLlamaCpp(String model, String prompt) throws IOException {
        String text = Files.readString(SharedData.require("text/prompts/" + prompt + ".txt"), StandardCharsets.UTF_8);
        int[] expected;
        try (var f = SafetensorsFile.open(SharedData.require("reference/" + model + "/logits-F32-" + prompt + ".safetensors"))) {
            expected = f.tensor("tokens").toIntArray();
        }
        Tokenizer t = ReferenceTokenizers.tokenizer(model);
        ReferenceIdsTest.assertSameIds(t, expected, t.encode(text));
    }

    @Test
    void tinyLlamaWikiTextCountLikeLlamaCpp() {
        Tokenizer t = ReferenceTokenizers.tokenizer("qforge-tiny-llama");
        String wiki = ReferenceTokenizers.text("wikitext2_test");
        int[] ids = t.encode(wiki);
        assertEquals(435_968, ids.length); // MANIFEST: llama.cpp's count, BOS included
        assertEquals(1, ids[0]);
        assertEquals(wiki, t.decode(ids, true));
    }

    @Test
    void tinyLlamaGreedySampleDecodes() throws IOException {
        var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                SharedData.require("models/qforge-tiny-llama/reference-outputs.json").toFile());
        var sample = json.get("greedy_sample");
        List<Integer> list = new java.util.ArrayList<>();
        sample.get("ids").forEach(n -> list.add(n.asInt()));
        int[] ids = list.stream().mapToInt(Integer::intValue).toArray();
        Tokenizer t = ReferenceTokenizers.tokenizer("qforge-tiny-llama");
        assertEquals(sample.get("text").asText(), t.decode(ids, true));
    }
}
