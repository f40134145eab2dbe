package dev.qforge.eval;

import dev.qforge.SharedData;
import dev.qforge.format.TextFiles;
import dev.qforge.runtime.QModel;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * qforge runs llama.cpp's own GGUF files (every tensor read in its stored block format) and gets
 * llama.cpp's perplexity for them within 0.2 % (reference/README.md, llama.cpp-results.json). They are
 * not identical: llama.cpp quantizes the activations to Q8_0/Q8_K for its integer dot products, qforge
 * keeps them in F32.
 */
@Tag("slow")
class GgufPerplexityTest {
    @ParameterizedTest(name = "{0} {1} on {3}")
    @CsvSource({
            // model, file suffix, llama.cpp PPL, text, chunks (0 = all)
            "qforge-tiny-llama, Q8_0, 253.871271, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, Q4_0, 253.89672, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, Q4_K_M, 253.93118, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, IQ4_XS-imatrix, 256.091814, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, Q2_K-imatrix, 255.972616, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, IQ1_S-imatrix, 267.124071, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, IQ2_XXS-imatrix, 258.4005, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, IQ2_XS-imatrix, 252.234066, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, IQ3_XXS-imatrix, 253.183959, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, TQ1_0-imatrix, 424.888892, wikitext-2-raw/wiki.test.raw, 200",
            "qforge-tiny-llama, TQ2_0-imatrix, 424.888892, wikitext-2-raw/wiki.test.raw, 200",
            "stories260K, F32, 6.3032, tinystories/tinystories-train-sample.txt, 0",
            "stories260K, F16, 6.3031, tinystories/tinystories-train-sample.txt, 0",
            "stories260K, Q4_K_M, 6.4349, tinystories/tinystories-train-sample.txt, 0",
            "stories260K, Q2_K, 6.6690, tinystories/tinystories-train-sample.txt, 0"})
    void perplexityOfLlamaCppFiles(String model, String type, double llamaCpp, String text, int chunks) {
        Path gguf = SharedData.require("reference/" + model + "/gguf/" + model + "-" + type + ".gguf");
        Path tokenizer = SharedData.require("models/" + model + "/hf");
        String content = TextFiles.readUtf8(SharedData.require("text/" + text));
        try (QModel m = QModel.load(gguf, tokenizer)) {
            int[] tokens = m.tokenizer().encode(content);
            PerplexityResult r = new PerplexityRun(m.decoder(), PerplexityProtocol.LLAMA_CPP, 512, m.bosToken())
                    .run(tokens, chunks, null, null);
            System.out.printf("%s-%s: PPL %.4f (llama.cpp %.4f, %+.3f %%)%n", model, type, r.ppl(), llamaCpp,
                    100 * (r.ppl() / llamaCpp - 1));
            assertEquals(llamaCpp, r.ppl(), 0.002 * llamaCpp);
        }
    }
}
