package dev.qforge.hub;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Per-file progress on stderr: bytes so far, total and speed. On a terminal one line is rewritten in
 * place a few times a second; into a log it prints a line every few seconds so the log stays short.
 * Deliberately plain; a progress-bar library can replace it without touching the downloader.
 */
final class ProgressPrinter {
    private final PrintWriter out;
    private final boolean terminal;

    /** @param out where to print, or null for silence */
    ProgressPrinter(PrintWriter out, boolean terminal) {
        this.out = out;
        this.terminal = terminal;
    }

    static ProgressPrinter silent() {
        return new ProgressPrinter(null, false);
    }

    void message(String line) {
        if (out != null) {
            out.println(line);
            out.flush();
        }
    }

    File start(String name, long total, long alreadyHave) {
        return new File(name, total, alreadyHave);
    }

    final class File {
        private final String name;
        private final long total;
        private final long startBytes;
        private final long startNanos = System.nanoTime();
        private long bytes;
        private long lastPrint = startNanos;

        private File(String name, long total, long alreadyHave) {
            this.name = name;
            this.total = total;
            this.startBytes = alreadyHave;
            this.bytes = alreadyHave;
            if (alreadyHave > 0) {
                message(name + ": resuming at " + size(alreadyHave));
            }
        }

        void advance(long n) {
            bytes += n;
            long now = System.nanoTime();
            long interval = terminal ? 250_000_000L : 5_000_000_000L;
            if (out != null && now - lastPrint >= interval) {
                lastPrint = now;
                out.print((terminal ? "\r" : "") + line(now) + (terminal ? "\u001b[K" : "\n"));
                out.flush();
            }
        }

        void done() {
            if (out != null) {
                out.print((terminal ? "\r" : "") + line(System.nanoTime()) + " done" + (terminal ? "\u001b[K\n" : "\n"));
                out.flush();
            }
        }

        private String line(long now) {
            double seconds = Math.max(1e-3, (now - startNanos) / 1e9);
            double mbPerSecond = (bytes - startBytes) / 1e6 / seconds;
            String of = total >= 0 ? " / " + size(total) + String.format(Locale.ROOT, " (%d%%)",
                    total == 0 ? 100 : bytes * 100 / total) : "";
            return name + ": " + size(bytes) + of + String.format(Locale.ROOT, ", %.1f MB/s", mbPerSecond);
        }
    }

    static String size(long bytes) {
        if (bytes < 1_000_000) {
            return String.format(Locale.ROOT, "%.1f kB", bytes / 1e3);
        }
        if (bytes < 1_000_000_000) {
            return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
        }
        return String.format(Locale.ROOT, "%.2f GB", bytes / 1e9);
    }
}
