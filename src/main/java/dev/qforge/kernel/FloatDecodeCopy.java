package dev.qforge.kernel;

import dev.qforge.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The decode copy of an F32/F16/BF16 weight matrix: its bytes unchanged, on huge pages. A float matrix-vector
 * product is a pure stream of the weights; read from the memory-mapped file (4 KiB pages) it takes a TLB miss
 * and a prefetcher restart every 4 KiB (the read probe measured 10–15 % more on huge pages; the decode gain
 * itself was within this machine's noise, docs/BENCHMARKS.md). The
 * copy is made on the first single-token product of the matrix (so a prefill-only run, like perplexity,
 * makes none) and kept by the matrix ({@link WeightMatrix#decodeLayout}) as the block formats' packed layouts are.
 *
 * <p>Copies are anonymous memory that the kernel cannot drop as it drops the file's cached pages, so all of
 * them together stay under {@link #BUDGET_FRACTION} of the machine's memory; matrices past it, and those
 * under one huge page, are read in place.
 */
final class FloatDecodeCopy {
    /** Share of physical memory the copies may take together. */
    static final double BUDGET_FRACTION = 0.4;
    private static final long MIN_BYTES = 2L << 20;
    private static final long BUDGET = budget();
    private static final AtomicLong RESERVED = new AtomicLong();

    private FloatDecodeCopy() {
    }

    private static long budget() {
        if (Boolean.getBoolean("qforge.smallPages")) {
            return 0;
        }
        try {
            var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            return (long) (os.getTotalMemorySize() * BUDGET_FRACTION);
        } catch (RuntimeException | LinkageError e) {
            return 0;
        }
    }

    /** The matrix's bytes to stream for a decode step: its huge-page copy where one is (or can be) made, else its data. */
    static MemorySegment of(WeightMatrix w) {
        long bytes = w.byteSize();
        if (bytes < MIN_BYTES || BUDGET == 0) {
            return w.data();
        }
        return w.decodeLayout((m, arena) -> copy(m, arena, bytes));
    }

    private static MemorySegment copy(WeightMatrix m, Arena arena, long bytes) {
        if (RESERVED.addAndGet(bytes) > BUDGET) {
            RESERVED.addAndGet(-bytes);
            return m.data();
        }
        // when the matrix lets its copy go (the arena closes), the budget gets the bytes back
        MemorySegment.NULL.reinterpret(0, arena, s -> RESERVED.addAndGet(-bytes));
        MemorySegment copy = HugePageMemory.allocate(bytes, arena);
        MemorySegment.copy(m.data(), 0, copy, 0, bytes);
        return copy;
    }
}
