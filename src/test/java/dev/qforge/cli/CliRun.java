package dev.qforge.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One run of the command line in-process, with what it printed: the harness of the CLI tests. */
record CliRun(int exit, String out, String err) {

    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int exit = Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new CliRun(exit, out.toString(), err.toString());
    }

    /** A user mistake: exit 1 and one line "qforge: ..." containing {@code fragment}, no stack trace. */
    static void assertOneLineError(CliRun r, String fragment) {
        r.assertOneLineError(fragment);
    }

    void assertOneLineError(String fragment) {
        assertEquals(1, exit, err);
        String[] lines = err.strip().split("\n");
        assertEquals(1, lines.length, "one line: " + err);
        assertTrue(lines[0].startsWith("qforge: "), err);
        assertTrue(lines[0].contains(fragment), "'" + err + "' should contain '" + fragment + "'");
        assertFalse(err.contains("Exception"), "no stack trace: " + err);
    }
}
