package dev.qforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qforge.SharedData;
import dev.qforge.eval.KlDivergence;
import dev.qforge.eval.QuantizationCheck;
import dev.qforge.format.GgufFile;
import dev.qforge.format.JsonFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.qforge.cli.CliRun.assertOneLineError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code qforge quantize} end to end, and its one-line answers to mistakes. */
class QuantizeCommandTest {
    @TempDir
    Path tmp;

    private Path synth() {
        Path dir = tmp.resolve("tiny-llama");
        CliRun r = CliRun.of("synth", "--shape", "tiny-llama", "--dtype", "F32", "--out", dir.toString());
        assertEquals(0, r.exit(), r.err());
        return dir;
    }

    @Test
    void quantizesChecksAndStoresTheCheck() throws Exception {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path text = SharedData.require("text/wikitext-2-raw/wiki.test.raw");
        Path out = tmp.resolve("tiny-Q4_K_M.gguf");
        CliRun r = CliRun.of("quantize", "--model", model.toString(), "--type", "Q4_K_M", "--out", out.toString(),
                "--check-text", text.toString(), "--check-chunks", "2", "--check-tokens", "8");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("bits per weight"), r.out());
        assertTrue(r.out().contains("same top token"), r.out());
        assertFalse(r.err().contains("LOOKS BROKEN"), r.err());
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals(15, f.metadata().getInt("general.file_type"));
        }
        JsonNode check = JsonFiles.readObject(tmp.resolve("tiny-Q4_K_M.gguf.check.json"));
        assertTrue(check.path("text").path("same_top").asDouble() > 0.8, check.toString());
        assertTrue(check.path("text").path("mean_kld").asDouble() < 0.05, check.toString());
        assertFalse(check.path("looks_broken").asBoolean(true));
    }

    @Test
    void withoutCheckTextTheKldCheckIsSkippedWithANote() {
        Path model = synth();
        Path out = tmp.resolve("q8.gguf");
        CliRun r = CliRun.of("quantize", "-m", model.toString(), "-t", "Q8_0", "-o", out.toString(), "--check-tokens", "4");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("no --check-text"), r.err());
        assertTrue(Files.exists(tmp.resolve("q8.gguf.check.json")));
    }

    @Test
    void aBrokenResultIsLoud() {
        // Base and "quantized" models that disagree completely on every position.
        KlDivergence kl = new KlDivergence();
        int vocab = 4;
        for (int p = 0; p < 10; p++) {
            float[] base = {(float) Math.log(0.97), (float) Math.log(0.01), (float) Math.log(0.01), (float) Math.log(0.01)};
            float[] logits = {-5f, 5f, 0f, 0f};
            kl.add(base, 0, logits, 0, vocab, 0);
        }
        QuantizationCheck.Report report = QuantizationCheck.report(new QuantizationCheck.TextResult(1, 16, 10, kl.result()), null);
        assertTrue(report.looksBroken());
        StringWriter err = new StringWriter();
        QuantizeCommand.warnIfBroken(new PrintWriter(err, true), report);
        assertTrue(err.toString().contains("WARNING: THE QUANTIZED MODEL LOOKS BROKEN"), err.toString());
        assertTrue(err.toString().contains("top token only 0.0 %"), err.toString());
        assertTrue(err.toString().contains("mean KL divergence"), err.toString());
        assertTrue(report.toJson().path("looks_broken").asBoolean());

        StringWriter quiet = new StringWriter();
        QuantizeCommand.warnIfBroken(new PrintWriter(quiet, true), QuantizationCheck.report(null, null));
        assertEquals("", quiet.toString());
    }

    @Test
    void mistakesAreOneLineErrors() throws Exception {
        Path model = synth();
        String out = tmp.resolve("x.gguf").toString();
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q9_K", "-o", out), "unknown quantization type 'Q9_K'");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--tensor-type", "attn_v"),
                "expected PATTERN=TYPE");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--tensor-type", "attn_v=Q7"),
                "unknown block format 'Q7'");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--tensor-type", "(=Q8_0"),
                "does not compile");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--imatrix",
                tmp.resolve("nope.dat").toString()), "nope.dat: no such file");
        assertOneLineError(CliRun.of("quantize", "-m", tmp.resolve("missing").toString(), "-t", "Q4_0", "-o", out),
                "not a Hugging Face model directory");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", tmp.toString()), "is a directory");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--check-text",
                tmp.resolve("none.txt").toString()), "none.txt: no such file");
        assertFalse(Files.exists(Path.of(out)));
    }

    @Test
    void anOutputThatNamesAnInputIsRefusedAndTheInputKept() throws Exception {
        Path model = synth();
        Path weights;
        try (var files = Files.list(model)) {
            weights = files.filter(f -> f.toString().endsWith(".safetensors")).findFirst().orElseThrow();
        }
        byte[] before = Files.readAllBytes(weights);
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", weights.toString(), "--no-check"),
                "names an input of this run");
        Path config = model.resolve("config.json");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o",
                model.resolve(".").resolve("config.json").toString(), "--no-check"), "names an input of this run");
        Path text = tmp.resolve("calib.txt");
        Files.writeString(text, "some words ".repeat(400));
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", text.toString(), "--calib",
                text.toString(), "--no-check"), "names an input of this run");
        assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(weights)), "the weights are untouched");
        assertTrue(Files.size(config) > 0);
        try (var files = Files.list(model)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().contains(".partial-")), "no partial files left");
        }
    }

    @Test
    void calibratedQuantizationWritesAGgufThatRecordsItsMethod() throws Exception {
        Path model = synth();
        Path text = tmp.resolve("calib.txt");
        Files.writeString(text, "The quick brown fox jumps over the lazy dog. ".repeat(300));
        Path out = tmp.resolve("gptq.gguf");
        CliRun r = CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_K_M", "-o", out.toString(), "--calib",
                text.toString(), "--calib-samples", "4", "--calib-ctx", "64", "--no-check");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("calibration: 4 samples of 64 tokens"), r.err());
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals("gptq", f.metadata().getString("quantize.qforge.method"), "the default: GPTQ alone");
        }
        r = CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_K_M", "-o", out.toString(), "--calib",
                text.toString(), "--calib-samples", "4", "--calib-ctx", "64", "--method", "gptq", "--no-check");
        assertEquals(0, r.exit(), r.err());
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals("gptq", f.metadata().getString("quantize.qforge.method"), "no rotation unless asked");
        }
        Path six = tmp.resolve("q6k.gguf");
        r = CliRun.of("quantize", "-m", model.toString(), "-t", "Q6_K", "-o", six.toString(), "--calib",
                text.toString(), "--calib-samples", "4", "--calib-ctx", "64", "--no-check");
        assertEquals(0, r.exit(), r.err());
        try (GgufFile f = GgufFile.open(six)) {
            assertEquals("gptq", f.metadata().getString("quantize.qforge.method"), "no rotation by default");
        }
        Path rtn = tmp.resolve("rtn.gguf");
        r = CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_K_M", "-o", rtn.toString(), "--calib",
                text.toString(), "--calib-samples", "4", "--calib-ctx", "64", "--method", "rtn", "--no-check");
        assertEquals(0, r.exit(), r.err());
        assertEquals(Files.size(out), Files.size(rtn), "the method changes the blocks, not the file's size");
        Path rotated = tmp.resolve("rotated.gguf");
        r = CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_K_M", "-o", rotated.toString(), "--calib",
                text.toString(), "--calib-samples", "4", "--calib-ctx", "64", "--rotate", "--no-check");
        assertEquals(0, r.exit(), r.err());
        try (GgufFile f = GgufFile.open(rotated)) {
            assertEquals("rotation+gptq", f.metadata().getString("quantize.qforge.method"));
            assertEquals("tiny-llama", f.metadata().getString("general.name"), "named after the model, not the rotated copy");
        }
        Path awq = tmp.resolve("awq.gguf");
        r = CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_K_M", "-o", awq.toString(), "--calib",
                text.toString(), "--calib-samples", "4", "--calib-ctx", "64", "--method", "awq+gptq", "--no-check");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("AWQ: 2 layers in"), r.err());
        try (GgufFile f = GgufFile.open(awq)) {
            assertEquals("awq+gptq", f.metadata().getString("quantize.qforge.method"));
            assertEquals("tiny-llama", f.metadata().getString("general.name"), "named after the model, not the scaled copy");
        }
        assertTrue(Math.abs(Files.size(out) - Files.size(awq)) <= 32,
                "AWQ changes the blocks, not the tensors' sizes (the longer method name is within the alignment)");
        r = CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_K_M", "-o", awq.toString(), "--calib",
                text.toString(), "--calib-samples", "4", "--calib-ctx", "64", "--method", "awq", "--no-check");
        assertEquals(0, r.exit(), r.err());
        try (GgufFile f = GgufFile.open(awq)) {
            assertEquals("awq+rtn", f.metadata().getString("quantize.qforge.method"), "AWQ alone rounds after scaling");
        }
        try (var files = Files.list(tmp)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().contains(".partial-")
                            || f.getFileName().toString().endsWith(".resume")),
                    "the spilled tensors, the rotated copy and the state are gone");
        }
    }

    @Test
    void calibrationMistakesAreOneLineErrors() throws Exception {
        Path model = synth();
        Path text = tmp.resolve("calib.txt");
        Files.writeString(text, "short text ".repeat(40));
        String out = tmp.resolve("x.gguf").toString();
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--calib", text.toString(),
                "--method", "magic"), "unknown method 'magic'");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--calib", text.toString(),
                "--method", "awq+gptq+rtn"), "unknown method 'awq+gptq+rtn'");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--method", "awq"),
                "needs a calibration text");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--method", "gptq"),
                "needs a calibration text");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--calib", text.toString(),
                "--calib-samples", "50", "--calib-ctx", "64"), "fewer than the 50 asked for");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--calib",
                tmp.resolve("nothing.txt").toString()), "nothing.txt: no such file");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--calib", text.toString(),
                "--damp", "-1"), "damping");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--resume"),
                "--resume continues a calibrated run");
        Path longer = tmp.resolve("longer.txt");
        Files.writeString(longer, "The quick brown fox jumps over the lazy dog. ".repeat(300));
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", out, "--calib", longer.toString(),
                "--resume"), "no state of an interrupted run");
        assertFalse(Files.exists(Path.of(out)));
    }

    @Test
    void aRecipeChoosesTheMethodPerTensorAndItsMistakesAreOneLineErrors() throws Exception {
        Path model = synth();
        Files.writeString(tmp.resolve("calib.txt"), "The quick brown fox jumps over the lazy dog. ".repeat(300));
        Path recipe = tmp.resolve("recipe.yaml");
        Files.writeString(recipe, """
                type: Q8_0
                calibration: {text: calib.txt, samples: 4, ctx: 64}
                modifiers:
                  - gptq: {targets: ['re:blk[.].*'], ignore: ['*ffn_down*']}
                  - rtn: {targets: ["output.weight"]}
                """);
        Path out = tmp.resolve("recipe.gguf");
        CliRun r = CliRun.of("quantize", "-m", model.toString(), "--recipe", recipe.toString(), "-o", out.toString(), "--no-check");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.err().contains("method gptq,rtn"), r.err());
        assertTrue(r.err().contains("note: 2 tensors match no method"), "the ffn_down tensors: " + r.err());
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals("gptq,rtn", f.metadata().getString("quantize.qforge.method"));
        }
        Path typo = tmp.resolve("typo.yaml");
        Files.writeString(typo, "type: Q8_0\ncalibration: {text: calib.txt, samples: 4, ctx: 64}\nmodifiers:\n  - gptq: {targets: [\"blk.*.attn_qq.weight\"]}\n");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "--recipe", typo.toString(), "-o", out.toString() + "2",
                "--no-check"), "matches no tensor of this model");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "--recipe", recipe.toString(), "--method", "rtn", "-o",
                out.toString() + "3"), "--method and --recipe");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-o", out.toString() + "4"), "no type: give -t TYPE");
        assertFalse(Files.exists(Path.of(out + "2")));
        assertFalse(Files.exists(Path.of(out + "2.resume")), "no state is left by a run refused before it started");
    }
}
