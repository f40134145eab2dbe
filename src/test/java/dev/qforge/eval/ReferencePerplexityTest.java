package dev.qforge.eval;

import dev.qforge.SharedData;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.format.SafetensorsFile;
import dev.qforge.format.TextFiles;
import dev.qforge.model.Decoder;
import dev.qforge.model.DecoderWeights;
import dev.qforge.model.HfConfigFile;
import dev.qforge.model.ModelConfig;
import dev.qforge.runtime.QModel;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** WikiText-2 perplexity with llama.cpp's protocol against llama.cpp's own F32 figures (reference/README.md). */
@Tag("slow")
class ReferencePerplexityTest {
    @Test
    void stories260KWikiTextMatchesLlamaCpp() {
        Path dir = SharedData.require("models/stories260K/hf");
        int[] tokens;
        try (var ref = SafetensorsFile.open(SharedData.require("reference/stories260K/tokens-hf.safetensors"))) {
            tokens = ref.tensor("wiki_test").toIntArray();
        }
        PerplexityResult r = run(dir, tokens, 0);
        assertEquals(1580, r.chunks());
        assertEquals(127.5557, r.ppl(), 127.5557 * 0.001, "PPL within 0.1 % of llama.cpp's");
        assertEquals(0.74872, r.pplError(), 0.001);
        System.out.printf("stories260K wiki.test: PPL = %.4f +/- %.5f (%d chunks, %.1f s)%n", r.ppl(), r.pplError(), r.chunks(), r.seconds());
    }

    @Test
    void tinyLlamaFirst200ChunksMatchLlamaCpp() {
        // reference/qforge-tiny-llama/llama.cpp-results.json: F32, -c 512 --chunks 200: PPL 253.6382 +/- 3.37208.
        // This run goes through the model's own tokenizer.json, as `qforge eval ppl` does.
        Path dir = SharedData.require("models/qforge-tiny-llama/hf");
        String text = TextFiles.readUtf8(SharedData.require("text/wikitext-2-raw/wiki.test.raw"));
        try (QModel m = QModel.load(dir)) {
            int[] tokens = m.tokenizer().encode(text);
            assertEquals(435_968, tokens.length, "llama.cpp's token count");
            PerplexityResult r = new PerplexityRun(m.decoder(), PerplexityProtocol.LLAMA_CPP, 512, m.bosToken())
                    .run(tokens, 200, null, null);
            assertEquals(200, r.chunks());
            assertEquals(253.6382, r.ppl(), 253.6382 * 0.001, "PPL within 0.1 % of llama.cpp's");
            assertEquals(3.37208, r.pplError(), 0.01);
            System.out.printf("qforge-tiny-llama wiki.test, 200 chunks: PPL = %.4f +/- %.5f (%.1f s)%n", r.ppl(), r.pplError(), r.seconds());
        }
    }

    static PerplexityResult run(Path dir, int[] tokens, int maxChunks) {
        ModelConfig config = HfConfigFile.read(dir.resolve("config.json"));
        try (var checkpoint = SafetensorsCheckpoint.open(dir)) {
            Decoder decoder = new Decoder(config, DecoderWeights.load(config, checkpoint));
            return new PerplexityRun(decoder, PerplexityProtocol.LLAMA_CPP, 512, config.bosTokenId()).run(tokens, maxChunks, null, null);
        }
    }
}
