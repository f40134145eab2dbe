package dev.qforge.cli;

import org.junit.jupiter.api.Test;

import static dev.qforge.cli.CliRun.assertOneLineError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code qforge bench gptq}: one row per shape, each part against the FMA peak; mistakes are one-line errors. */
class GptqBenchCommandTest {
    @Test
    void printsARowPerShape() {
        CliRun r = CliRun.of("bench", "gptq", "--shape", "64x256,32x512", "--tokens", "96", "--reps", "1", "-t", "Q8_0");
        assertEquals(0, r.exit(), r.err());
        String[] lines = r.out().strip().split("\n");
        assertEquals(3, lines.length, r.out());
        assertTrue(lines[1].startsWith("64x256") && lines[1].contains("Q8_0"), lines[1]);
        assertTrue(lines[2].startsWith("32x512"), lines[2]);
    }

    @Test
    void mistakesAreOneLineErrors() {
        assertOneLineError(CliRun.of("bench", "gptq", "--shape", "64by256"), "give ROWSxCOLS");
        assertOneLineError(CliRun.of("bench", "gptq", "--shape", "64x100"), "multiple of Q4_K's block of 256");
        assertOneLineError(CliRun.of("bench", "gptq", "-t", "F16"), "not a block format GPTQ can round onto");
    }
}
