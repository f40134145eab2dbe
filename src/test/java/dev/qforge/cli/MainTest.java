package dev.qforge.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line end to end on a synthetic model, and its answers to user mistakes. */
class MainTest {
    @TempDir
    Path tmp;

    record Run(int exit, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(exit, out.toString(), err.toString());
    }

    private Path synth(String shape) {
        Path dir = tmp.resolve(shape);
        Run r = run("synth", "--shape", shape, "--dtype", "F32", "--out", dir.toString());
        assertEquals(0, r.exit, r.err);
        return dir;
    }

    @Test
    void synthInspectGenerateAndPerplexity() throws Exception {
        Path dir = synth("tiny-qwen3");
        Run inspect = run("inspect", dir.toString());
        assertEquals(0, inspect.exit, inspect.err);
        assertTrue(inspect.out.contains("Qwen3ForCausalLM"), inspect.out);
        assertTrue(inspect.out.contains("model.layers.1.self_attn.k_norm.weight"), inspect.out);
        assertTrue(inspect.out.contains("bits per weight: 32.000"), inspect.out);

        Run a = run("generate", "--model", dir.toString(), "--prompt", "Hello world", "-n", "12");
        Run b = run("generate", "--model", dir.toString(), "--prompt", "Hello world", "-n", "12");
        assertEquals(0, a.exit, a.err);
        assertTrue(a.out.startsWith("Hello world"), a.out);
        assertEquals(a.out, b.out, "greedy generation is deterministic");
        assertTrue(a.err.contains("tokens/s"), a.err);

        Path text = tmp.resolve("text.txt");
        Files.writeString(text, "The quick brown fox jumps over the lazy dog. ".repeat(60));
        Run ppl = run("eval", "ppl", "--model", dir.toString(), "--text", text.toString(), "--ctx", "64");
        assertEquals(0, ppl.exit, ppl.err);
        assertTrue(ppl.out.matches("(?s)Final estimate: PPL = [0-9.]+ \\+/- [0-9.]+\\s*"), ppl.out);

        Run json = run("eval", "ppl", "--model", dir.toString(), "--text", text.toString(), "--ctx", "64", "--json",
                "--protocol", "hf", "--save-logits", tmp.resolve("base.safetensors").toString());
        assertEquals(0, json.exit, json.err);
        assertTrue(json.out.contains("\"ppl\""), json.out);
        try (var f = dev.qforge.format.SafetensorsFile.open(tmp.resolve("base.safetensors"))) {
            long rows = f.tensor("targets").elementCount();
            assertTrue(rows > 0);
            assertEquals(rows * 512, f.tensor("log_probs").elementCount());
        }
        Run kld = run("eval", "kld", "--model", dir.toString(), "--base", tmp.resolve("base.safetensors").toString());
        assertEquals(0, kld.exit, kld.err);
        assertTrue(kld.out.contains("Mean    KLD:") && kld.out.contains("Same top p:  100.000"), kld.out);
        Run kldDir = run("eval", "kld", "--model", dir.toString(), "--base", dir.toString(), "--text", text.toString(),
                "--ctx", "64", "--json");
        assertEquals(0, kldDir.exit, kldDir.err);
        assertTrue(kldDir.out.contains("\"same_top\" : 1.0"), kldDir.out);
        assertOneLineError(run("eval", "kld", "--model", dir.toString(), "--base", dir.toString()), 1, "--text is needed");
        assertOneLineError(run("eval", "kld", "--model", dir.toString(), "--base", text.toString()), 1, "not a safetensors file?");
    }

    @Test
    void inspectsAndRunsLlamaCppGguf() {
        Path gguf = dev.qforge.SharedData.require("reference/qforge-tiny-llama/gguf/qforge-tiny-llama-Q4_K_M.gguf");
        Path tokenizer = dev.qforge.SharedData.require("models/qforge-tiny-llama/hf");
        Run inspect = run("inspect", gguf.toString());
        assertEquals(0, inspect.exit, inspect.err);
        assertTrue(inspect.out.contains("blk.0.ffn_down.weight") && inspect.out.contains("Q6_K"), inspect.out);
        assertTrue(inspect.out.contains("tensors: 75; parameters: 8,392,960"), inspect.out);
        Run generate = run("generate", "--model", gguf.toString(), "--tokenizer", tokenizer.toString(), "--prompt", "The", "-n", "8");
        assertEquals(0, generate.exit, generate.err);
        assertTrue(generate.out.startsWith("The "), generate.out);
        Run embedded = run("generate", "--model", gguf.toString(), "--prompt", "The", "-n", "8");
        assertEquals(0, embedded.exit, embedded.err);
        assertEquals(generate.out, embedded.out, "the GGUF's own tokenizer gives the same text as tokenizer.json");
    }

    @Test
    void userMistakesAreOneLineErrors() throws Exception {
        assertOneLineError(run("generate", "--model", tmp.resolve("nope").toString(), "--prompt", "x"), 1, "not a model directory");
        assertOneLineError(run("inspect", tmp.resolve("nope").toString()), 1, "no such file");
        assertOneLineError(run("synth", "--shape", "huge", "--out", tmp.resolve("x").toString()), 1, "unknown shape 'huge'");

        Path dir = synth("tiny-llama");
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json")).replace("\"llama\"", "\"gpt_neox\""));
        assertOneLineError(run("generate", "--model", dir.toString(), "--prompt", "x"), 1,
                "model_type 'gpt_neox' is not supported; supported: llama, mistral, qwen2, qwen3");

        Path other = synth("tiny-mistral");
        Path text = tmp.resolve("short.txt");
        Files.writeString(text, "too short");
        assertOneLineError(run("eval", "ppl", "--model", other.toString(), "--text", text.toString()), 1, "fewer than one chunk");
        assertOneLineError(run("eval", "ppl", "--model", other.toString(), "--text", text.toString(), "--protocol", "x"), 1, "--protocol 'x'");
        Files.write(text, new byte[]{(byte) 0xC3, (byte) 0x28});
        assertOneLineError(run("eval", "ppl", "--model", other.toString(), "--text", text.toString()), 1, "not valid UTF-8");

        Files.write(other.resolve("model.safetensors"), new byte[]{1, 2, 3});
        assertOneLineError(run("generate", "--model", other.toString(), "--prompt", "x"), 1, "too short for a safetensors header");

        Run usage = run("generate", "--bogus");
        assertEquals(2, usage.exit);
    }

    private static void assertOneLineError(Run r, int exit, String fragment) {
        assertEquals(exit, r.exit, r.err);
        String[] lines = r.err.strip().split("\n");
        assertEquals(1, lines.length, "one line: " + r.err);
        assertTrue(lines[0].startsWith("qforge: "), r.err);
        assertTrue(lines[0].contains(fragment), "'" + r.err + "' should contain '" + fragment + "'");
        assertFalse(r.err.contains("Exception"), "no stack trace: " + r.err);
    }
}
