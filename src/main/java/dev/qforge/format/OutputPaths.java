package dev.qforge.format;

import dev.qforge.QforgeException;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Guards a run's inputs against its outputs: an output path that is one of the input files (directly, via a
 * link, or inside an input model folder) would replace the source weights with the result, so it is refused
 * before any work starts.
 */
public final class OutputPaths {
    private OutputPaths() {
    }

    /**
     * Throws if writing {@code output} would replace any of {@code inputs}; an input that is a folder stands
     * for every file directly in it (a model directory).
     *
     * @param option the option that named the output, for the message (e.g. "-o")
     */
    public static void refuseInputs(Path output, String option, List<Path> inputs) {
        if (output == null || !Files.exists(output)) {
            return;
        }
        for (Path in : expand(inputs)) {
            try {
                if (Files.isSameFile(output, in)) {
                    throw new QforgeException(output + ": " + option + " names an input of this run (" + in
                            + "); writing it would destroy the input, choose another path");
                }
            } catch (IOException ignored) {
                // An input that cannot be examined cannot be the same file as an existing output.
            }
        }
    }

    private static List<Path> expand(List<Path> inputs) {
        List<Path> files = new ArrayList<>();
        for (Path in : inputs) {
            if (in == null || !Files.exists(in)) {
                continue;
            }
            if (Files.isDirectory(in)) {
                try (DirectoryStream<Path> entries = Files.newDirectoryStream(in)) {
                    for (Path p : entries) {
                        if (Files.isRegularFile(p)) {
                            files.add(p);
                        }
                    }
                } catch (IOException ignored) {
                    // An unreadable folder holds no input we could destroy through it.
                }
            } else {
                files.add(in);
            }
        }
        return files;
    }
}
