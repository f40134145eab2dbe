package dev.qforge.quant;

import dev.qforge.model.SyntheticModel;
import dev.qforge.model.SyntheticShape;
import dev.qforge.pipeline.CalibrationSamples;
import dev.qforge.pipeline.LayerwiseCalibration;
import dev.qforge.pipeline.MatrixQuantizer;
import dev.qforge.quant.gptq.GptqQuantizer;
import dev.qforge.quant.gptq.Hessian;
import dev.qforge.quant.plan.LlamaCppMix;
import dev.qforge.quant.plan.LlamaFileType;
import dev.qforge.quant.write.GgufModelWriter;
import dev.qforge.runtime.QModel;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A run interrupted after a layer and resumed must give the bytes of a run that never stopped. */
class CalibrationResumeTest {
    @TempDir
    Path tmp;

    private static final String SETTINGS = "test settings";

    @Test
    void aResumedRunGivesTheBytesOfAnUninterruptedOne() throws Exception {
        Path model = tmp.resolve("model");
        SyntheticModel.write(SyntheticShape.TINY_LLAMA.config(), DType.F32, 3, Long.MAX_VALUE, model, null);
        List<LlamaCppMix.Choice> plan = GgufModelWriter.plan(model, GgufModelWriter.Options.of(LlamaFileType.Q8_0), true);
        String text = "A calibration text of plain words, said again and again. ".repeat(60);

        Map<String, byte[]> whole = run(model, plan, text, tmp.resolve("whole.gguf"), false, false);
        Map<String, byte[]> again = run(model, plan, text, tmp.resolve("again.gguf"), false, false);
        whole.forEach((name, bytes) -> assertArrayEquals(bytes, again.get(name), "deterministic: " + name));

        Path out = tmp.resolve("resumed.gguf");
        assertThrows(IllegalStateException.class, () -> run(model, plan, text, out, true, false));
        assertTrue(Files.isDirectory(CalibrationState.folderOf(out)), "the finished layer is kept");
        Map<String, byte[]> resumed = run(model, plan, text, out, false, true);
        assertEquals(whole.keySet(), resumed.keySet());
        whole.forEach((name, bytes) -> assertArrayEquals(bytes, resumed.get(name), name));

        assertThrows(dev.qforge.QforgeException.class, () -> CalibrationState.resume(out, "other settings"),
                "a state of other settings is not resumed");
    }

    /** One calibration into {@code out}'s state; {@code failAtLayer1} stops it as an interruption would. */
    private static Map<String, byte[]> run(Path model, List<LlamaCppMix.Choice> plan, String text, Path out,
                                           boolean failAtLayer1, boolean resume) {
        CalibrationState state = resume ? CalibrationState.resume(out, SETTINGS) : CalibrationState.start(out, SETTINGS);
        try (QModel m = QModel.load(model)) {
            CalibrationSamples samples = CalibrationSamples.of(out, text, m.tokenizer(), m.bosToken(), 3, 32, 0);
            CalibratedQuantization q = new CalibratedQuantization(plan, CalibratedQuantization.Method.GPTQ,
                    GptqQuantizer.Settings.DEFAULT, state, w -> { }, null);
            MatrixQuantizer method = new MatrixQuantizer() {
                @Override
                public WeightMatrix quantize(int layer, String role, WeightMatrix source, Hessian inputs) {
                    if (failAtLayer1 && layer == 1) {
                        throw new IllegalStateException("interrupted");
                    }
                    return q.quantize(layer, role, source, inputs);
                }

                @Override
                public WeightMatrix restored(int layer, String role, WeightMatrix source) {
                    return q.restored(layer, role, source);
                }

                @Override
                public void layerDone(int layer) {
                    q.layerDone(layer);
                }
            };
            new LayerwiseCalibration(m.decoder(), false).run(samples, method, null);
            Map<String, byte[]> bytes = new TreeMap<>();
            q.tensors().forEach((name, seg) -> bytes.put(name, seg.toArray(ValueLayout.JAVA_BYTE)));
            state.finish();
            assertFalse(Files.exists(CalibrationState.folderOf(out)));
            return bytes;
        } finally {
            state.close();
        }
    }
}
