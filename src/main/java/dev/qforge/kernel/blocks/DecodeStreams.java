package dev.qforge.kernel.blocks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How many groups of rows a decode kernel reads at once, each group its own stream of weights. On the Intel Xeons
 * measured (2-vCPU Granite/Emerald Rapids class, AVX-512 with AMX), one thread streamed Q4_0 weights at 8.1-8.7
 * GB/s reading one group at a time and 11.0-11.7 GB/s reading four, their loads interleaved vector by vector (13
 * GB/s probe): the compute of one stream no longer waits for that stream's next lines. Taking the same four groups
 * one block after another (the loads of one stream together) gained nothing, and the gain is not the fewer
 * broadcasts: in cache both run at ~30 G weights/s. Measured on Intel only; on AMD Zen 4 two streams per thread were
 * no better, so elsewhere kernels keep one group at a time. {@code -Dqforge.decode.groups=1|4} overrides.
 */
public final class DecodeStreams {
    /** 4 or 1. */
    public static final int GROUPS = choose();

    private DecodeStreams() {
    }

    private static int choose() {
        String forced = System.getProperty("qforge.decode.groups");
        if (forced != null) {
            return forced.trim().equals("4") ? 4 : 1;
        }
        return "GenuineIntel".equals(vendor()) ? 4 : 1;
    }

    /** The CPU's vendor string from /proc/cpuinfo, or "" where there is none. */
    static String vendor() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("vendor_id")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: keep one stream
        }
        return "";
    }
}
