package dev.qforge.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A progress line on stderr with rate and ETA. On a terminal it is redrawn in place; in a log it prints a
 * line at most every 10 seconds, so logs stay short.
 */
final class ProgressBar {
    private static final int WIDTH = 30;
    private final PrintWriter err;
    private final String label;
    private final long total;
    private final boolean terminal;
    private final long start = System.nanoTime();
    private long lastPrint;

    ProgressBar(PrintWriter err, String label, long total) {
        this.err = err;
        this.label = label;
        this.total = total;
        this.terminal = System.console() != null;
    }

    void update(long done, String detail) {
        long now = System.nanoTime();
        boolean last = done >= total;
        if (!last && now - lastPrint < (terminal ? 200_000_000L : 10_000_000_000L)) {
            return;
        }
        lastPrint = now;
        double seconds = (now - start) / 1e9;
        double eta = done == 0 ? Double.NaN : seconds * (total - done) / done;
        int filled = (int) (WIDTH * done / Math.max(1, total));
        String bar = "#".repeat(filled) + "-".repeat(WIDTH - filled);
        String line = String.format(Locale.ROOT, "%s [%s] %d/%d %s, %s elapsed, ETA %s", label, bar, done, total, detail,
                clock(seconds), clock(eta));
        err.print(terminal ? "\r" + line + "\u001b[K" + (last ? "\n" : "") : line + "\n");
        err.flush();
    }

    private static String clock(double seconds) {
        if (Double.isNaN(seconds)) {
            return "--:--";
        }
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%02d:%02d", s / 60, s % 60);
    }
}
