package dev.qforge.format;

import dev.qforge.QforgeException;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shape every user-facing error must have: one line, starting with the file, saying what is wrong. */
public final class QforgeExceptionAssert {
    private QforgeExceptionAssert() {
    }

    public static void oneLine(Path file, QforgeException e, String fragment) {
        String m = e.getMessage();
        assertTrue(m.startsWith(file + ": "), "message names the file: " + m);
        assertTrue(m.contains(fragment), "message '" + m + "' should mention '" + fragment + "'");
        assertFalse(m.contains("\n") || m.contains("\r"), "one line: " + m);
    }
}
