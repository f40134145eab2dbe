package dev.qforge.cli;

import dev.qforge.SharedData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.qforge.cli.CliRun.assertOneLineError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReportCommandTest {
    @TempDir
    Path tmp;

    @Test
    void measuresAFileAndShowsItBesideLlamaCppsResults() throws Exception {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path test = SharedData.require("text/wikitext-2-raw/wiki.test.raw");
        Path results = SharedData.require("reference/qforge-tiny-llama/llama.cpp-results.json");
        Path gguf = SharedData.require("reference/qforge-tiny-llama/gguf/qforge-tiny-llama-Q4_K_M-imatrix.gguf");
        Path html = tmp.resolve("r.html");
        CliHarness.Result r = CliHarness.run("report", "-m", model.toString(), "-o", html.toString(), "--text", test.toString(),
                "--chunks", "2", "--llama-cpp", results.toString(), gguf.toString());
        assertEquals(0, r.exit(), r.err());
        String page = Files.readString(html);
        assertTrue(page.contains("qforge-tiny-llama-Q4_K_M-imatrix.gguf"), "the measured file");
        assertTrue(page.contains(">IQ2_M-imatrix<") && page.contains(">Q6_K-imatrix<"), "llama.cpp's files");
        assertTrue(page.contains("qforge report -m"), "the command");
        assertEquals(33, page.split("<circle").length - 1, "32 llama.cpp results with a KLD and the measured file");
    }

    @Test
    void quantizeWritesTheReportOfItsFile() throws Exception {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path test = SharedData.require("text/wikitext-2-raw/wiki.test.raw");
        Path dir = tmp.resolve("rep");
        CliHarness.Result r = CliHarness.run("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", tmp.resolve("q.gguf").toString(),
                "--check-text", test.toString(), "--check-chunks", "1", "--report", dir.toString());
        assertEquals(0, r.exit(), r.err());
        String page = Files.readString(dir.resolve("report.html"));
        assertEquals(1, page.split("<circle").length - 1, "the one file");
        assertTrue(page.contains("-t Q4_0"), "its command");
        assertOneLineError(CliRun.of("quantize", "-m", model.toString(), "-t", "Q4_0", "-o", tmp.resolve("p.gguf").toString(),
                "--report", dir.toString()), "--report shows the check's KL divergence");
    }

    @Test
    void evalKldWritesTheReportOfItsFile() throws Exception {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path test = SharedData.require("text/wikitext-2-raw/wiki.test.raw");
        Path gguf = SharedData.require("reference/qforge-tiny-llama/gguf/qforge-tiny-llama-Q4_0.gguf");
        Path dir = tmp.resolve("kld");
        CliHarness.Result r = CliHarness.run("eval", "kld", "-m", gguf.toString(), "--tokenizer", model.toString(),
                "--base", model.toString(), "--text", test.toString(), "--chunks", "1", "--report", dir.toString());
        assertEquals(0, r.exit(), r.err());
        String page = Files.readString(dir.resolve("report.html"));
        assertEquals(1, page.split("<circle").length - 1, "the one file");
        assertTrue(page.contains("qforge-tiny-llama-Q4_0.gguf") && page.contains("4.864"), "its name and bits per weight");
    }

    @Test
    void mistakesAreOneLineErrors() throws Exception {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path results = SharedData.require("reference/qforge-tiny-llama/llama.cpp-results.json");
        String out = tmp.resolve("r.html").toString();
        assertOneLineError(CliRun.of("report", "-m", model.toString(), "-o", out), "nothing to report");
        assertOneLineError(CliRun.of("report", "-m", model.toString(), "-o", out, tmp.resolve("x.gguf").toString()), "give --text FILE");
        assertOneLineError(CliRun.of("report", "-m", model.toString(), "-o", results.toString(), "--llama-cpp", results.toString()), "-o");
        Path bad = tmp.resolve("bad.json");
        Files.writeString(bad, "{\"x\": {\"kld\": \"high\", \"bytes\": 3}}");
        assertOneLineError(CliRun.of("report", "-m", model.toString(), "-o", out, "--llama-cpp", bad.toString()), "needs a positive \"bytes\" and a numeric \"kld\"");
        assertFalse(Files.exists(Path.of(out)));
    }
}
