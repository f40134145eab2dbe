package dev.qforge.tokenizer;

import dev.qforge.SharedData;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The real tokenizers and texts of shared/data, loaded once per test run (the byte-level files are several MB
 * of JSON each) and shared by the test classes.
 */
final class ReferenceTokenizers {
    /** Tokenizer name → directory under shared/data. */
    static final Map<String, String> DIRS = Map.of(
            "gpt2", "tokenizers/gpt2",
            "qwen2.5", "tokenizers/qwen2.5",
            "llama3", "tokenizers/llama3",
            "stories260K", "models/stories260K/hf",
            "babyllama-105", "models/babyllama-105/hf",
            "qforge-tiny-llama", "models/qforge-tiny-llama/hf");

    /** Text name → file under shared/data/text. */
    static final Map<String, String> TEXTS = Map.of(
            "tricky", "text/tricky.txt",
            "tinystories", "text/tinystories/tinystories-train-sample.txt",
            "wikitext2_test", "text/wikitext-2-raw/wiki.test.raw");

    private static final Map<String, Tokenizer> TOKENIZERS = new ConcurrentHashMap<>();
    private static final Map<String, String> TEXT_CACHE = new ConcurrentHashMap<>();

    private ReferenceTokenizers() {
    }

    static Tokenizer tokenizer(String name) {
        Path dir = SharedData.require(DIRS.get(name));
        return TOKENIZERS.computeIfAbsent(name, n -> Tokenizer.load(dir));
    }

    static String text(String name) {
        Path file = SharedData.require(TEXTS.get(name));
        return TEXT_CACHE.computeIfAbsent(name, n -> {
            try {
                return Files.readString(file, StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** The reference ids file and the tensor name of a text in it (the Llama-2-style models name WikiText "wiki_test"). */
    static Path referenceFile(String tokenizer) {
        return switch (tokenizer) {
            case "gpt2", "qwen2.5", "llama3" -> SharedData.require("reference/tokenizers/" + tokenizer + "-tokens-hf.safetensors");
            default -> SharedData.require("reference/" + tokenizer + "/tokens-hf.safetensors");
        };
    }

    static String referenceTensor(String tokenizer, String text) {
        boolean byteLevel = tokenizer.equals("gpt2") || tokenizer.equals("qwen2.5") || tokenizer.equals("llama3");
        return text.equals("wikitext2_test") && !byteLevel ? "wiki_test" : text;
    }
}
