package dev.qforge.kernel;

import dev.qforge.tensor.DType;
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

    /**
     * Columns per panel of an F32/BF16 copy. A row of 8192 columns dotted with x as one pass keeps 32 KiB of x
     * (all of Zen 4's L1) live next to the weight stream: [2048, 8192] streamed at 15–17 GB/s where [8192, 2048]
     * streamed at 25–30 (BF16, 2 threads). In panels of 2048 columns a pass needs 8 KiB of x.
     */
    static final int PANEL_COLS = 2048;

    /**
     * A float matrix's bytes for decode: row-major when {@code panelCols} is the matrix's cols, else in column
     * panels — panel p holds columns [p·panelCols, (p+1)·panelCols) of every row (the last panel may be narrower),
     * row after row, and the panels follow one another.
     */
    record Decode(MemorySegment data, int panelCols) {
    }

    /** The matrix's bytes to stream for a decode step: its huge-page copy where one is (or can be) made, else its data. */
    static Decode of(WeightMatrix w) {
        long bytes = w.byteSize();
        if (bytes < MIN_BYTES || BUDGET == 0) {
            return new Decode(w.data(), w.cols());
        }
        MemorySegment d = w.decodeLayout((m, arena) -> copy(m, arena, bytes));
        return new Decode(d, d == w.data() ? w.cols() : panelCols(w));
    }

    /** F32 and BF16 copies wider than a panel are paneled; F16 (converted a row at a time) stays row-major. */
    private static int panelCols(WeightMatrix w) {
        DType dt = w.asFloatTensor().dtype();
        return dt != DType.F16 && w.cols() > PANEL_COLS ? PANEL_COLS : w.cols();
    }

    private static MemorySegment copy(WeightMatrix m, Arena arena, long bytes) {
        if (RESERVED.addAndGet(bytes) > BUDGET) {
            RESERVED.addAndGet(-bytes);
            return m.data();
        }
        // when the matrix lets its copy go (the arena closes), the budget gets the bytes back
        MemorySegment.NULL.reinterpret(0, arena, s -> RESERVED.addAndGet(-bytes));
        MemorySegment copy = HugePageMemory.allocate(bytes, arena);
        int panel = panelCols(m);
        if (panel == m.cols()) {
            MemorySegment.copy(m.data(), 0, copy, 0, bytes);
            return copy;
        }
        long size = m.asFloatTensor().dtype().byteSize();
        long rowBytes = m.cols() * size;
        int rows = m.rows();
        Parallel.forRange((m.cols() + panel - 1) / panel, p -> {
            int c0 = p * panel;
            long width = Math.min(panel, m.cols() - c0) * size;
            long base = (long) rows * c0 * size;
            for (long r = 0; r < rows; r++) {
                MemorySegment.copy(m.data(), r * rowBytes + c0 * size, copy, base + r * width, width);
            }
        });
        return copy;
    }
}
