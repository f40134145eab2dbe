package dev.qforge.eval;

import dev.qforge.SharedData;
import dev.qforge.format.FloatEncoding;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.format.SafetensorsWriter;
import dev.qforge.format.TextFiles;
import dev.qforge.runtime.QModel;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KlDivergenceTest {
    @TempDir
    Path tmp;

    @Test
    void statisticsOfHandMadeDistributions() {
        KlDivergence kl = new KlDivergence();
        float[] base = {(float) Math.log(0.5), (float) Math.log(0.5)};
        float[] logits = {(float) Math.log(0.9), (float) Math.log(0.1)};
        kl.add(base, 0, logits, 0, 2, 0);
        kl.add(base, 0, logits, 0, 2, 1);
        float[] same = {(float) Math.log(0.5), (float) Math.log(0.5)};
        kl.add(base, 0, same, 0, 2, 0);
        kl.add(base, 0, same, 0, 2, 1);
        KlDivergence.Result r = kl.result();
        double expected = 0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1);
        assertEquals(expected / 2, r.kld().value(), 1e-6, "mean of two 0.5108 and two zeros");
        assertEquals(expected, r.kldDistribution().max(), 1e-6);
        assertEquals(0, r.kldDistribution().min(), 1e-7);
        assertEquals(0, r.deltaP().value(), 1e-6, "+0.4, -0.4, 0, 0");
        assertEquals(Math.sqrt((0.16 + 0.16) / 4), r.rmsDeltaP().value(), 1e-6);
        assertEquals(1.0, r.sameTop().value(), 1e-9, "ties go to the first token in both");
        double nllModel = (-Math.log(0.9) - Math.log(0.1) - 2 * Math.log(0.5)) / 4;
        assertEquals(Math.exp(nllModel), r.pplModel().value(), 1e-5);
        assertEquals(2.0, r.pplBase().value(), 1e-5);
    }

    /**
     * qforge-tiny-llama in F32 against its own BF16 rounding: the saved-logits file gives the same statistics
     * as running both models, and a model measured against its own saved logits has a divergence of ~0
     * (so the file's 16-bit grid adds no measurable bias).
     */
    @Test
    void savedBaseAgreesWithRunningTheBaseModel() throws IOException {
        Path f32 = SharedData.require("models/qforge-tiny-llama/hf");
        Path bf16 = bf16Copy(f32);
        String text = TextFiles.readUtf8(SharedData.require("text/wikitext-2-raw/wiki.test.raw")).substring(0, 40_000);
        int ctx = 256;
        try (QModel base = QModel.load(f32); QModel model = QModel.load(bf16)) {
            int[] tokens = base.tokenizer().encode(text);
            PerplexityRun baseRun = new PerplexityRun(base.decoder(), PerplexityProtocol.LLAMA_CPP, ctx, base.bosToken());
            PerplexityRun run = new PerplexityRun(model.decoder(), PerplexityProtocol.LLAMA_CPP, ctx, model.bosToken());
            int chunks = 6;
            KlDivergence.Result direct = KlDivergenceRun.run(run, BaseLogProbs.computed(baseRun, tokens), tokens, chunks, null);

            Path saved = tmp.resolve("base.safetensors");
            try (var w = ScoredLogitsFile.writer(saved, base.config().vocabSize(), ctx, chunks, baseRun.scoredPerChunk(), tokens, "llama.cpp")) {
                baseRun.run(tokens, chunks, null, w);
                w.commit();
            }
            try (ScoredLogitsFile file = ScoredLogitsFile.open(saved)) {
                assertEquals(chunks, file.chunks());
                KlDivergence.Result viaFile = KlDivergenceRun.run(run, BaseLogProbs.saved(file, run.scoredPerChunk()),
                        file.tokens(), chunks, null);
                assertTrue(direct.kld().value() > 1e-6, "BF16 rounding changes the predictions: " + direct.kld().value());
                assertEquals(direct.kld().value(), viaFile.kld().value(), 0.01 * direct.kld().value() + 1e-7);
                assertEquals(direct.sameTop().value(), viaFile.sameTop().value(), 0.002);
                assertEquals(direct.pplBase().value(), viaFile.pplBase().value(), 1e-3 * direct.pplBase().value());

                KlDivergence.Result self = KlDivergenceRun.run(baseRun, BaseLogProbs.saved(file, baseRun.scoredPerChunk()),
                        file.tokens(), chunks, null);
                assertTrue(self.kld().value() < 1e-7, "self-divergence through the file: " + self.kld().value());
                assertEquals(1.0, self.sameTop().value(), 1e-9);
                System.out.printf("tiny-llama BF16 vs F32, %d tokens: KLD %.3g (direct) %.3g (file), self %.2g%n",
                        direct.tokens(), direct.kld().value(), viaFile.kld().value(), self.kld().value());
            }
        }
    }

    private Path bf16Copy(Path dir) throws IOException {
        Path out = tmp.resolve("bf16");
        Files.createDirectories(out);
        for (String f : new String[]{"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
            Files.copy(dir.resolve(f), out.resolve(f));
        }
        try (var checkpoint = SafetensorsCheckpoint.open(dir)) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String name : checkpoint.names()) {
                Tensor t = checkpoint.tensor(name);
                float[] v = t.toFloatArray();
                w.add(name, DType.BF16, t.shape(), o -> FloatEncoding.writeBf16(o, v, 0, v.length));
            }
            w.write(out.resolve("model.safetensors"));
        }
        return out;
    }
}
