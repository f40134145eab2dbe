package dev.qforge.format;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The temporary {@code .NAME.partial-PID} files and folders that outputs are written to before they are
 * renamed into place. Those of this process are deleted when it is stopped (SIGTERM, Ctrl-C: the JVM's
 * shutdown hooks run); those a killed process left (kill -9, a power cut) are deleted the next time an
 * output is written to the same folder, once their PID is no longer a running process.
 */
public final class PartialFiles {
    private static final Pattern PARTIAL = Pattern.compile("^\\..+\\.partial-(\\d+)$");
    private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> LIVE.forEach(PartialFiles::deleteTree), "qforge-partial-cleanup"));
    }

    private PartialFiles() {
    }

    /** The temporary name for {@code target} in its folder, for this process. */
    public static Path partialPath(Path target) {
        Path absolute = target.toAbsolutePath();
        return absolute.resolveSibling("." + absolute.getFileName() + ".partial-" + ProcessHandle.current().pid());
    }

    /** Deletes what dead processes left in {@code dir}, then records {@code partial} as this process's to clean up. */
    public static void begin(Path partial) {
        sweepStale(partial.toAbsolutePath().getParent());
        LIVE.add(partial.toAbsolutePath());
    }

    /**
     * Deletes {@code temp} (any temporary file, e.g. in the system's temp folder, where there is nothing to
     * sweep) if this process stops before {@link #end}.
     */
    public static void track(Path temp) {
        LIVE.add(temp.toAbsolutePath());
    }

    /** {@code partial} was renamed into place, deleted or kept on purpose: nothing left to clean up. */
    public static void end(Path partial) {
        LIVE.remove(partial.toAbsolutePath());
    }

    /** Deletes the partial files and folders in {@code dir} whose process is gone. */
    public static void sweepStale(Path dir) {
        if (dir == null || !Files.isDirectory(dir)) {
            return;
        }
        long self = ProcessHandle.current().pid();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, ".*.partial-*")) {
            for (Path p : entries) {
                Matcher m = PARTIAL.matcher(p.getFileName().toString());
                if (!m.matches()) {
                    continue;
                }
                long pid;
                try {
                    pid = Long.parseLong(m.group(1));
                } catch (NumberFormatException e) {
                    continue;
                }
                if (pid != self && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false) == Boolean.FALSE) {
                    deleteTree(p);
                }
            }
        } catch (IOException ignored) {
            // Stale files are an annoyance, not a reason to fail the run.
        }
    }

    /** Deletes a file, or a folder with everything in it; errors are ignored (best effort). */
    public static void deleteTree(Path p) {
        try {
            if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
                Files.walkFileTree(p, new SimpleFileVisitor<>() {
                    @Override
                    public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                        Files.deleteIfExists(file);
                        return FileVisitResult.CONTINUE;
                    }

                    @Override
                    public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                        Files.deleteIfExists(d);
                        return FileVisitResult.CONTINUE;
                    }
                });
            } else {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // best effort
        }
    }
}
