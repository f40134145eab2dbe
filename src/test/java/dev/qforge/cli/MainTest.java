package dev.qforge.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.qforge.cli.CliRun.assertOneLineError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line end to end on a synthetic model, and its answers to user mistakes. */
class MainTest {
    @TempDir
    Path tmp;

    private Path synth(String shape) {
        Path dir = tmp.resolve(shape);
        CliRun r = CliRun.of("synth", "--shape", shape, "--dtype", "F32", "--out", dir.toString());
        assertEquals(0, r.exit(), r.err());
        return dir;
    }

    /**
     * --matmul: an unknown backend is a usage error naming the choices; a known one runs; the command's
     * choice (and the default auto of the commands) does not stay behind for a caller in the same JVM.
     */
    @Test
    void matmulBackendOption() throws Exception {
        Path dir = synth("tiny-llama");
        Path text = tmp.resolve("matmul.txt");
        Files.writeString(text, "One two three four five six seven eight nine ten. ".repeat(40));
        dev.qforge.kernel.MatMulBackend before = dev.qforge.kernel.MatMulBackend.current();
        CliRun bad = CliRun.of("eval", "ppl", "--model", dir.toString(), "--text", text.toString(), "--matmul", "cuda");
        assertEquals(2, bad.exit(), bad.err());
        assertTrue(bad.err().contains("unknown matmul backend 'cuda' (java, onednn or auto)"), bad.err());
        String[] ppl = new String[2];
        String[] backends = {"java", "auto"};
        for (int i = 0; i < 2; i++) {
            CliRun r = CliRun.of("eval", "ppl", "--model", dir.toString(), "--text", text.toString(), "--ctx", "64",
                    "--matmul", backends[i]);
            assertEquals(0, r.exit(), r.err());
            ppl[i] = r.out();
            assertEquals(before, dev.qforge.kernel.MatMulBackend.current(), "the library's choice is restored");
        }
        // F32 weights: both backends multiply in F32, so the perplexities agree to their printed digits or nearly
        double java = Double.parseDouble(ppl[0].replaceAll("(?s).*PPL = ([0-9.]+).*", "$1"));
        double auto = Double.parseDouble(ppl[1].replaceAll("(?s).*PPL = ([0-9.]+).*", "$1"));
        assertEquals(java, auto, java * 1e-4, ppl[0] + " / " + ppl[1]);
    }

    @Test
    void synthInspectGenerateAndPerplexity() throws Exception {
        Path dir = synth("tiny-qwen3");
        CliRun inspect = CliRun.of("inspect", dir.toString());
        assertEquals(0, inspect.exit(), inspect.err());
        assertTrue(inspect.out().contains("Qwen3ForCausalLM"), inspect.out());
        assertTrue(inspect.out().contains("model.layers.1.self_attn.k_norm.weight"), inspect.out());
        assertTrue(inspect.out().contains("bits per weight: 32.000"), inspect.out());

        CliRun a = CliRun.of("generate", "--model", dir.toString(), "--prompt", "Hello world", "-n", "12");
        CliRun b = CliRun.of("generate", "--model", dir.toString(), "--prompt", "Hello world", "-n", "12");
        assertEquals(0, a.exit(), a.err());
        assertTrue(a.out().startsWith("Hello world"), a.out());
        assertEquals(a.out(), b.out(), "greedy generation is deterministic");
        assertTrue(a.err().contains("tokens/s"), a.err());

        Path text = tmp.resolve("text.txt");
        Files.writeString(text, "The quick brown fox jumps over the lazy dog. ".repeat(60));
        CliRun ppl = CliRun.of("eval", "ppl", "--model", dir.toString(), "--text", text.toString(), "--ctx", "64");
        assertEquals(0, ppl.exit(), ppl.err());
        assertTrue(ppl.out().matches("(?s)Final estimate: PPL = [0-9.]+ \\+/- [0-9.]+\\s*"), ppl.out());

        CliRun json = CliRun.of("eval", "ppl", "--model", dir.toString(), "--text", text.toString(), "--ctx", "64", "--json",
                "--protocol", "hf", "--save-logits", tmp.resolve("base.safetensors").toString());
        assertEquals(0, json.exit(), json.err());
        assertTrue(json.out().contains("\"ppl\""), json.out());
        try (var f = dev.qforge.format.SafetensorsFile.open(tmp.resolve("base.safetensors"))) {
            long rows = f.tensor("targets").elementCount();
            assertTrue(rows > 0);
            assertEquals(rows * 512, f.tensor("log_probs").elementCount());
        }
        CliRun kld = CliRun.of("eval", "kld", "--model", dir.toString(), "--base", tmp.resolve("base.safetensors").toString());
        assertEquals(0, kld.exit(), kld.err());
        assertTrue(kld.out().contains("Mean    KLD:") && kld.out().contains("Same top p:  100.000"), kld.out());
        CliRun kldDir = CliRun.of("eval", "kld", "--model", dir.toString(), "--base", dir.toString(), "--text", text.toString(),
                "--ctx", "64", "--json");
        assertEquals(0, kldDir.exit(), kldDir.err());
        assertTrue(kldDir.out().contains("\"same_top\" : 1.0"), kldDir.out());
        assertOneLineError(CliRun.of("eval", "kld", "--model", dir.toString(), "--base", dir.toString()), "--text is needed");
        assertOneLineError(CliRun.of("eval", "kld", "--model", dir.toString(), "--base", text.toString()), "not a safetensors file?");
    }

    @Test
    void inspectsAndRunsLlamaCppGguf() {
        Path gguf = dev.qforge.SharedData.require("reference/qforge-tiny-llama/gguf/qforge-tiny-llama-Q4_K_M.gguf");
        Path tokenizer = dev.qforge.SharedData.require("models/qforge-tiny-llama/hf");
        CliRun inspect = CliRun.of("inspect", gguf.toString());
        assertEquals(0, inspect.exit(), inspect.err());
        assertTrue(inspect.out().contains("blk.0.ffn_down.weight") && inspect.out().contains("Q6_K"), inspect.out());
        assertTrue(inspect.out().contains("tensors: 75; parameters: 8,392,960"), inspect.out());
        CliRun generate = CliRun.of("generate", "--model", gguf.toString(), "--tokenizer", tokenizer.toString(), "--prompt", "The", "-n", "8");
        assertEquals(0, generate.exit(), generate.err());
        assertTrue(generate.out().startsWith("The "), generate.out());
        CliRun embedded = CliRun.of("generate", "--model", gguf.toString(), "--prompt", "The", "-n", "8");
        assertEquals(0, embedded.exit(), embedded.err());
        assertEquals(generate.out(), embedded.out(), "the GGUF's own tokenizer gives the same text as tokenizer.json");
    }

    @Test
    void userMistakesAreOneLineErrors() throws Exception {
        String saved = System.getProperty("qforge.threads");
        try {
            System.setProperty("qforge.threads", "abc");
            assertOneLineError(CliRun.of("generate", "--model", tmp.resolve("nope").toString(), "--prompt", "x"),
                    "QFORGE_THREADS must be a whole number of threads");
        } finally {
            if (saved == null) {
                System.clearProperty("qforge.threads");
            } else {
                System.setProperty("qforge.threads", saved);
            }
        }
        CliRun zero = CliRun.of("generate", "--threads", "0", "--model", tmp.resolve("nope").toString(), "--prompt", "x");
        assertEquals(2, zero.exit());
        assertTrue(zero.err().contains("--threads must be at least 1"), zero.err());
        assertOneLineError(CliRun.of("generate", "--model", tmp.resolve("nope").toString(), "--prompt", "x"), "not a model directory");
        assertOneLineError(CliRun.of("inspect", tmp.resolve("nope").toString()), "no such file");
        assertOneLineError(CliRun.of("synth", "--shape", "huge", "--out", tmp.resolve("x").toString()), "unknown shape 'huge'");

        Path dir = synth("tiny-llama");
        Files.writeString(dir.resolve("config.json"), Files.readString(dir.resolve("config.json")).replace("\"llama\"", "\"gpt_neox\""));
        assertOneLineError(CliRun.of("generate", "--model", dir.toString(), "--prompt", "x"),
                "model_type 'gpt_neox' is not supported; supported: llama, mistral, qwen2, qwen3");

        Path other = synth("tiny-mistral");
        Path text = tmp.resolve("short.txt");
        Files.writeString(text, "too short");
        assertOneLineError(CliRun.of("eval", "ppl", "--model", other.toString(), "--text", text.toString()), "fewer than one chunk");
        assertOneLineError(CliRun.of("eval", "ppl", "--model", other.toString(), "--text", text.toString(), "--protocol", "x"), "--protocol 'x'");
        Files.write(text, new byte[]{(byte) 0xC3, (byte) 0x28});
        assertOneLineError(CliRun.of("eval", "ppl", "--model", other.toString(), "--text", text.toString()), "not valid UTF-8");

        Files.write(other.resolve("model.safetensors"), new byte[]{1, 2, 3});
        assertOneLineError(CliRun.of("generate", "--model", other.toString(), "--prompt", "x"), "too short for a safetensors header");

        CliRun usage = CliRun.of("generate", "--bogus");
        assertEquals(2, usage.exit());
    }

}
