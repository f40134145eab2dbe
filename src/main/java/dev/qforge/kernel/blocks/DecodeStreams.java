package dev.qforge.kernel.blocks;

import dev.qforge.CpuInfo;

/**
 * How many groups of rows a decode kernel reads at once, each group its own stream of weights. On the Intel Xeon
 * measured (2 vCPUs, AVX-512 with VNNI and AMX; the VM reports family 6, model 167), one thread streamed Q4_0 weights
 * at 8.1-8.7 GB/s reading one group at a time and 11.0-11.7 GB/s reading four whose loads interleave vector by vector
 * (13 GB/s one-stream probe); Q8_0, Q4_K, Q6_K, IQ4_XS, Q5_K and F32 gained likewise. Taking the same four groups one
 * block after another (each stream's loads together) gained nothing, nor did eight groups over four, and the gain is
 * not the shared broadcasts: in cache the kernels run about as fast either way. (One reading: the prefetchers run a
 * limited distance ahead of each stream.) Intel only so far; on AMD Zen 4 two streams per thread were no better and
 * four interleaved float rows slower, so elsewhere the kernels keep one group at a time. {@code
 * -Dqforge.decode.groups=4} or {@code =1} overrides (any other value means 1).
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
        return "GenuineIntel".equals(CpuInfo.field("vendor_id")) ? 4 : 1;
    }
}
