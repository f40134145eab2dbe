package dev.qforge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fields of Linux's /proc/cpuinfo (first processor), for the kernels that pick a path by CPU and the benchmarks that
 * name the machine: read in one place.
 */
public final class CpuInfo {
    private CpuInfo() {
    }

    /** The value of the first "key : value" line whose key is key, or "" where there is none (or no /proc/cpuinfo). */
    public static String field(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equals(key)) {
                    return line.substring(colon + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return "";
    }
}
