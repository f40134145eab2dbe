package dev.qforge.cli;

import dev.qforge.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.qforge.cli.CliRun.assertOneLineError;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** A size budget that cannot be met, or a bit allocation asked wrongly: one-line errors before any work, nothing written. */
class QuantizeBudgetErrorsTest {
    @TempDir
    Path tmp;

    @Test
    void budgetsOutsideWhatTheModelCanBeAreRefusedFirst() {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path text = SharedData.require("text/wikitext-2-raw/wiki.valid.raw");
        String out = tmp.resolve("a.gguf").toString();
        String m = model.toString();
        String t = text.toString();
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-size", "1MB", "--calib", t, "-o", out, "--no-check"),
                "is below the smallest file the candidate types make of this model");
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-bpw", "1.5", "--calib", t, "-o", out, "--no-check"),
                "is below the smallest file");
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-bpw", "17", "--calib", t, "-o", out, "--no-check"),
                "is above the F16 file of this model");
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-size", "3MB", "--candidates", "Q6_K,Q8_0", "--calib", t, "-o", out, "--no-check"),
                "is below the smallest file");
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-size", "3MB", "-o", out, "--no-check"),
                "give --calib FILE");
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-size", "3MB", "-t", "Q4_K_M", "--calib", t, "-o", out, "--no-check"),
                "give one or the other");
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-size", "3MB", "--target-bpw", "3", "--calib", t, "-o", out, "--no-check"),
                "not both");
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-size", "three", "--calib", t, "-o", out, "--no-check"),
                "--target-size 'three'");
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-size", "3MB", "--candidates", "Q4_K,Q9_Z", "--calib", t, "-o", out, "--no-check"),
                "--candidates");
        assertOneLineError(CliRun.of("quantize", "-m", m, "--target-size", "3MB", "--candidates", "Q8_K", "--calib", t, "-o", out, "--no-check"),
                "not a weight type");
        assertOneLineError(CliRun.of("quantize", "-m", m, "-t", "Q4_K_M", "--explain", "-o", out, "--no-check"),
                "belong to a bit allocation");
        assertFalse(Files.exists(Path.of(out)));
        assertFalse(Files.exists(tmp.resolve("a.gguf.resume")));
    }

    @Test
    void latticeTypesWithoutImportanceAreRefusedAsLlamaQuantizeRefusesThem() {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path imatrix = SharedData.require("reference/qforge-tiny-llama/imatrix-wiki-valid.dat");
        String out = tmp.resolve("b.gguf").toString();
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "IQ2_XXS", "-o", out, "--no-check"),
                "IQ2_XXS needs importance (as llama-quantize): give --imatrix FILE or --calib FILE");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "IQ1_M", "-o", out, "--no-check"),
                "blk.0.attn_output.weight: IQ2_XXS needs importance");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "IQ2_XXS", "--imatrix", imatrix.toString(),
                "--tensor-type", "token_embd=IQ2_XS", "-o", out, "--no-check"), "the embedding is quantized without it");
        assertFalse(Files.exists(Path.of(out)));
    }
}
