package dev.qforge.cli;

import dev.qforge.SharedData;
import dev.qforge.format.Imatrix;
import dev.qforge.format.ImatrixFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static dev.qforge.cli.CliRun.assertOneLineError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code qforge imatrix} end to end on a synthetic model, and its answers to user mistakes. */
class ImatrixCommandTest {
    @TempDir
    Path tmp;

    private Path synth() {
        Path dir = tmp.resolve("tiny-llama");
        CliRun r = CliRun.of("synth", "--shape", "tiny-llama", "--dtype", "F32", "--out", dir.toString());
        assertEquals(0, r.exit(), r.err());
        return dir;
    }

    private Path text() throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 400; i++) {
            sb.append("the quick brown fox ").append(i).append(" jumps over the lazy dog. ");
        }
        Path text = tmp.resolve("calib.txt");
        Files.writeString(text, sb);
        return text;
    }

    @Test
    void writesDatAndGguf() throws Exception {
        Path model = synth();
        Path text = text();
        Path dat = tmp.resolve("out/im.dat");
        CliRun r = CliRun.of("imatrix", "--model", model.toString(), "--text", text.toString(), "--ctx", "32", "--chunks", "3",
                "--out", dat.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("14 matrices, 3 chunks of 32 tokens"), r.out());
        Path gguf = tmp.resolve("im.gguf");
        r = CliRun.of("imatrix", "-m", model.toString(), "-f", text.toString(), "-c", "32", "--chunks", "3", "-o", gguf.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("GGUF"), r.out());

        Imatrix d = ImatrixFile.read(dat);
        Imatrix g = ImatrixFile.read(gguf);
        assertEquals(3, d.chunkCount());
        assertEquals(0, d.chunkSize());
        assertEquals(List.of(text.toString()), d.datasets());
        assertEquals(3, g.chunkCount());
        assertEquals(32, g.chunkSize());
        assertEquals(List.of(text.toString()), g.datasets());
        assertEquals(14, g.names().size());
        assertEquals(d.names(), g.names());
        for (String name : g.names()) {
            assertTrue(name.startsWith("blk."), name);
            assertEquals(3, d.entry(name).counts()[0], name);
            assertEquals(96, g.entry(name).counts()[0], name);
            float[] dm = d.entry(name).mean();
            float[] gm = g.entry(name).mean();
            for (int j = 0; j < gm.length; j++) {
                assertEquals(gm[j], dm[j], 1e-6f * gm[j], name);
            }
        }
        assertArrayEquals(d.importance("blk.1.ffn_down.weight", 160), d.entry("blk.1.ffn_down.weight").mean());
    }

    @Test
    void userMistakesAreOneLineErrors() throws Exception {
        Path model = synth();
        Path text = text();
        assertOneLineError(CliRun.of("imatrix", "--model", model.toString(), "--text", text.toString(), "--ctx", "8"), "--ctx 8 is too short");
        assertOneLineError(CliRun.of("imatrix", "--model", model.toString(), "--text", text.toString(), "--chunks", "-1"), "--chunks must be >= 0");
        assertOneLineError(CliRun.of("imatrix", "--model", model.toString(), "--text", tmp.resolve("none.txt").toString()), "none.txt");
        assertOneLineError(CliRun.of("imatrix", "--model", model.toString(), "--text", text.toString(), "--out", tmp.toString()), "is a directory");
        Path small = tmp.resolve("small.txt");
        Files.writeString(small, "too short");
        assertOneLineError(CliRun.of("imatrix", "--model", model.toString(), "--text", small.toString(), "--out",
                tmp.resolve("x.dat").toString()), "fewer than one chunk of 512");
        assertFalse(Files.exists(tmp.resolve("x.dat")));
        assertOneLineError(CliRun.of("imatrix", "--model", tmp.resolve("nope").toString(), "--text", text.toString()), "not a model directory");
    }

    @Test
    void referenceModelGivesLlamaCppDatFile() {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path text = SharedData.require("text/wikitext-2-raw/wiki.valid.raw");
        Imatrix ref = ImatrixFile.read(SharedData.require("reference/qforge-tiny-llama/imatrix-wiki-valid.dat"));
        Path out = tmp.resolve("imatrix.dat");
        CliRun r = CliRun.of("imatrix", "--model", model.toString(), "--text", text.toString(), "--chunks", "4", "--out", out.toString());
        assertEquals(0, r.exit(), r.err());
        Imatrix ours = ImatrixFile.read(out);
        assertEquals(4, ours.chunkCount());
        assertEquals(ref.names().stream().sorted().toList(), ours.names().stream().sorted().toList());
    }

}
