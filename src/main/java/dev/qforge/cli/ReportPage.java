package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.eval.report.QualityReport;
import dev.qforge.format.AtomicFile;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The {@code --report DIR} of quantize and eval kld: DIR/report.html, one page of {@link QualityReport}. */
final class ReportPage {
    private ReportPage() {
    }

    /** Refuses, before any work, a DIR that exists and is not a directory. */
    static void checkDir(Path dir) {
        if (dir != null && Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new QforgeException(dir + ": not a directory (--report DIR)");
        }
    }

    /** Writes DIR/report.html (creating DIR) and returns its path. */
    static Path write(Path dir, QualityReport page) {
        try {
            Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new QforgeException(dir + ": cannot create: " + e.getMessage(), e);
        }
        Path html = dir.resolve("report.html");
        AtomicFile.write(html, o -> o.write(page.html().getBytes(StandardCharsets.UTF_8)));
        return html;
    }
}
