package dev.qforge;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The real models, texts and llama.cpp reference outputs in ../shared/data. Tests that need them call
 * {@link #require(String)}, which skips the test with a clear message when the data is not there.
 */
public final class SharedData {
    private SharedData() {
    }

    public static Path root() {
        return Path.of(System.getProperty("qforge.shared", "../shared")).toAbsolutePath().normalize().resolve("data");
    }

    /** The path under shared/data, or the test is skipped (not passed) when it is absent. */
    public static Path require(String relative) {
        Path p = root().resolve(relative);
        Assumptions.assumeTrue(Files.exists(p),
                "skipped: shared test data " + p + " is absent (CI has it; see README, 'Test data')");
        return p;
    }
}
