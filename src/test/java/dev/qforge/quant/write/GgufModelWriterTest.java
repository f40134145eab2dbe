package dev.qforge.quant.write;

import dev.qforge.QforgeException;
import dev.qforge.SharedData;
import dev.qforge.format.GgufFile;
import dev.qforge.format.Imatrix;
import dev.qforge.format.JsonFiles;
import dev.qforge.format.QforgeExceptionAssert;
import dev.qforge.model.GgufCheckpoint;
import dev.qforge.model.SyntheticModel;
import dev.qforge.model.SyntheticShape;
import dev.qforge.quant.plan.LlamaCppMix;
import dev.qforge.quant.plan.LlamaFileType;
import dev.qforge.quant.plan.TensorTypeOverride;
import dev.qforge.runtime.QModel;
import dev.qforge.tensor.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Exported GGUF files run in qforge as their source does; failures leave nothing behind. */
class GgufModelWriterTest {
    @TempDir
    Path tmp;

    private static final String TEXT = "Once upon a time, a little fox found 42 shiny stones by the river. It's true!";

    /** Max |Δlogit| over all positions of the text, and how many positions have the same argmax. */
    record Diff(double maxAbs, int sameTop, int positions) {
    }

    static Diff compare(QModel a, QModel b, String text) {
        int[] ids = a.tokenizer().encode(text);
        assertArrayEquals(ids, b.tokenizer().encode(text));
        int vocab = a.config().vocabSize();
        float[] la = a.decoder().forward(a.decoder().newState(ids.length), ids, 0, ids.length, ids.length);
        float[] lb = b.decoder().forward(b.decoder().newState(ids.length), ids, 0, ids.length, ids.length);
        double max = 0;
        int same = 0;
        for (int p = 0; p < ids.length; p++) {
            int ta = 0;
            int tb = 0;
            for (int i = 0; i < vocab; i++) {
                int k = p * vocab + i;
                max = Math.max(max, Math.abs(la[k] - lb[k]));
                if (la[k] > la[p * vocab + ta]) {
                    ta = i;
                }
                if (lb[k] > lb[p * vocab + tb]) {
                    tb = i;
                }
            }
            if (ta == tb) {
                same++;
            }
        }
        return new Diff(max, same, ids.length);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-llama-tied", "tiny-mistral", "tiny-qwen2", "tiny-qwen3"})
    void f32ExportOfEveryFamilyRunsLikeItsSource(String shape) {
        Path dir = tmp.resolve(shape);
        SyntheticModel.write(SyntheticShape.byId(shape).config(), DType.F32, 7, Long.MAX_VALUE, dir, s -> { });
        Path gguf = tmp.resolve(shape + ".gguf");
        GgufModelWriter.write(dir, gguf, GgufModelWriter.Options.of(LlamaFileType.F32), null);
        try (QModel hf = QModel.load(dir); QModel g = QModel.load(gguf, dir)) {
            assertEquals(hf.config().vocabSize(), g.config().vocabSize());
            assertEquals(hf.config().headDim(), g.config().headDim());
            assertEquals(hf.config().tieWordEmbeddings(), g.config().tieWordEmbeddings());
            assertEquals(hf.config().qkvBias(), g.config().qkvBias());
            // Short enough for tiny-mistral's sliding window of 24 (llama.cpp runs Mistral as llama, without one).
            Diff d = compare(hf, g, "Once upon a time, a fox");
            assertTrue(d.positions() <= 24, "positions " + d.positions());
            assertTrue(d.maxAbs() < 1e-4, shape + ": max |Δlogit| " + d.maxAbs());
            assertEquals(d.positions(), d.sameTop());
        }
    }

    @Test
    void tinyLlamaF32AndQ8_0RunLikeTheHfModel() {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path f32 = tmp.resolve("f32.gguf");
        Path q8 = tmp.resolve("q8.gguf");
        GgufModelWriter.write(model, f32, GgufModelWriter.Options.of(LlamaFileType.F32), null);
        GgufModelWriter.write(model, q8, GgufModelWriter.Options.of(LlamaFileType.Q8_0), null);
        try (QModel hf = QModel.load(model); QModel a = QModel.load(f32, model); QModel b = QModel.load(q8, model)) {
            Diff exact = compare(hf, a, TEXT);
            assertTrue(exact.maxAbs() < 1e-4, "F32: max |Δlogit| " + exact.maxAbs());
            assertEquals(exact.positions(), exact.sameTop());
            Diff near = compare(hf, b, TEXT);
            System.out.printf("tiny-llama F32 GGUF: max |Δlogit| %.2e; Q8_0: %.4f, same top %d/%d%n", exact.maxAbs(),
                    near.maxAbs(), near.sameTop(), near.positions());
            assertTrue(near.maxAbs() < 0.5, "Q8_0: max |Δlogit| " + near.maxAbs());
            assertTrue(near.sameTop() >= near.positions() - 1, "Q8_0 same top " + near.sameTop() + "/" + near.positions());
        }
    }

    /** Llama 3.1's rope scaling goes to llama.cpp's rope_freqs.weight, and qforge reads it back. */
    @Test
    void llama3RopeScalingRoundTrips() throws IOException {
        Path dir = tmp.resolve("l3");
        SyntheticModel.write(SyntheticShape.byId("tiny-llama").config(), DType.F32, 7, Long.MAX_VALUE, dir, s -> { });
        Path config = dir.resolve("config.json");
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) JsonFiles.readObject(config);
        var rs = json.putObject("rope_scaling");
        rs.put("rope_type", "llama3");
        rs.put("factor", 8.0);
        rs.put("low_freq_factor", 1.0);
        rs.put("high_freq_factor", 4.0);
        rs.put("original_max_position_embeddings", 8192);
        json.put("rope_theta", 500000.0);
        Files.writeString(config, json.toPrettyString());
        Path gguf = tmp.resolve("l3.gguf");
        GgufModelWriter.write(dir, gguf, GgufModelWriter.Options.of(LlamaFileType.F32), null);
        try (QModel hf = QModel.load(dir); QModel g = QModel.load(gguf, dir)) {
            assertEquals(hf.config().ropeScaling(), g.config().ropeScaling());
            float[] factors = ((GgufCheckpoint) g.weights()).file().tensor("rope_freqs.weight").toFloatArray();
            assertEquals(8, factors.length);
            assertEquals(1f, factors[0]);
            assertEquals(8f, factors[7]);
            Diff d = compare(hf, g, TEXT);
            assertTrue(d.maxAbs() < 1e-4, "max |Δlogit| " + d.maxAbs());
        }
    }

    @Test
    void anInterruptedWriteLeavesNoFile() throws IOException {
        Path dir = tmp.resolve("m");
        SyntheticModel.write(SyntheticShape.byId("tiny-llama").config(), DType.F32, 7, Long.MAX_VALUE, dir, s -> { });
        Path out = tmp.resolve("out").resolve("model.gguf");
        Files.createDirectories(out.getParent());
        RuntimeException stop = new RuntimeException("interrupted");
        RuntimeException e = assertThrows(RuntimeException.class, () -> GgufModelWriter.write(dir, out,
                GgufModelWriter.Options.of(LlamaFileType.Q8_0), (done, total, c, bytes) -> {
                    if (done == 5) {
                        throw stop;
                    }
                }));
        assertEquals(stop, e);
        try (Stream<Path> left = Files.list(out.getParent())) {
            assertEquals(List.of(), left.toList(), "no file, no temporary file");
        }
    }

    @Test
    void overridesAndFallbacksApply() {
        Path dir = tmp.resolve("m");
        SyntheticModel.write(SyntheticShape.byId("tiny-llama").config(), DType.F32, 7, Long.MAX_VALUE, dir, s -> { });
        Path out = tmp.resolve("o.gguf");
        GgufModelWriter.Result r = GgufModelWriter.write(dir, out, GgufModelWriter.Options.of(LlamaFileType.Q4_K_M)
                .withOverrides(List.of(TensorTypeOverride.parse("attn_v=Q8_0"), TensorTypeOverride.parse("ffn_up=Q5_K"))), null);
        try (GgufFile f = GgufFile.open(out)) {
            for (LlamaCppMix.Choice c : r.choices()) {
                assertEquals(c.type(), f.info(c.name()).type(), c.name());
            }
            assertEquals("Q8_0", f.info("blk.0.attn_v.weight").type().name());
            // rows of 64: Q5_K (override) falls back to Q5_1, Q4_K to Q5_0, Q6_K (output) to Q8_0
            assertEquals("Q5_1", f.info("blk.1.ffn_up.weight").type().name());
            assertEquals("Q5_0", f.info("blk.1.attn_q.weight").type().name());
            assertEquals("Q8_0", f.info("output.weight").type().name());
            assertEquals("F32", f.info("blk.1.attn_norm.weight").type().name());
        }
    }

    @Test
    void anImatrixOfAnotherModelIsAOneLineError() {
        Path dir = tmp.resolve("m");
        SyntheticModel.write(SyntheticShape.byId("tiny-llama").config(), DType.F32, 7, Long.MAX_VALUE, dir, s -> { });
        Imatrix wrong = new Imatrix(tmp.resolve("other.dat"), List.of(new Imatrix.Entry("blk.0.attn_q.weight", new float[96], 1)),
                List.of("x.txt"), 1, 0);
        Path out = tmp.resolve("o.gguf");
        QforgeException e = assertThrows(QforgeException.class, () -> GgufModelWriter.write(dir, out,
                GgufModelWriter.Options.of(LlamaFileType.Q4_0).withImatrix(wrong, "other.dat"), null));
        QforgeExceptionAssert.oneLine(tmp.resolve("other.dat"), e, "blk.0.attn_q.weight");
        assertFalse(Files.exists(out));
    }

    @Test
    void q2_K_SWithoutAnImatrixIsAnError() {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path out = tmp.resolve("o.gguf");
        QforgeException e = assertThrows(QforgeException.class, () -> GgufModelWriter.write(model, out,
                GgufModelWriter.Options.of(LlamaFileType.Q2_K_S), null));
        assertTrue(e.getMessage().contains("Q2_K_S needs importance") && e.getMessage().contains("give an --imatrix"), e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void sizeLabelsAreLlamaCpps() {
        assertEquals("8.4M", GgufModelWriter.sizeLabel(8_392_960));
        assertEquals("260K", GgufModelWriter.sizeLabel(260_000));
        assertEquals("1.1B", GgufModelWriter.sizeLabel(1_100_048_384));
        assertEquals("71B", GgufModelWriter.sizeLabel(70_553_706_496L)); // Llama 3 70B, as llama.cpp labels it
    }

    @Test
    void qkPermutationInterleavesTheHalvesOfEachHead() {
        // one head of 8 rows: halves 0..3 and 4..7 become pairs (0,4), (1,5), ...
        assertArrayEquals(new int[]{0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15},
                dev.qforge.quant.transform.LlamaQkPermutation.headPermutation(16, 2));
    }
}
