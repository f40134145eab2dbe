package dev.qforge.kernel;

import dev.qforge.kernel.blocks.F16Rebiased;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import dev.qforge.tensor.WeightMatrix;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;
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
     * row after row, and the panels follow one another. {@code rebiased}: F16 values re-encoded as {@link
     * F16Rebiased} for {@link MatMul#f16Dot1}, which then reads them.
     */
    record Decode(MemorySegment data, int panelCols, boolean rebiased) {
        /** The matrix's bytes as they are. */
        Decode(MemorySegment data, int panelCols) {
            this(data, panelCols, false);
        }
    }

    /** The matrix's bytes to stream for a decode step: its huge-page copy where one is (or can be) made, else its data. */
    static Decode of(WeightMatrix w) {
        long bytes = w.byteSize();
        if (bytes < MIN_BYTES || BUDGET == 0) {
            return new Decode(w.data(), w.cols());
        }
        MemorySegment d = w.decodeLayout((m, arena) -> copy(m, arena, bytes));
        return d == w.data() ? new Decode(d, w.cols()) : new Decode(d, panelCols(w), rebiases(w));
    }

    /**
     * Copies wider than a panel are paneled, but for F16 where it is converted a row at a time (no four-row kernel:
     * AMD), which keeps the row-major copy it was measured with on Zen 4.
     */
    private static int panelCols(WeightMatrix w) {
        boolean converted = w.asFloatTensor().dtype() == DType.F16 && !rebiases(w);
        return converted ? w.cols() : Math.min(w.cols(), PANEL_COLS);
    }

    /**
     * Whether w's copy is {@link F16Rebiased}: F16 copies are, where the F16 kernel that needs it runs (four rows at a
     * time, {@link MatMul#FOUR_ROWS}); elsewhere F16 rows are converted as they are.
     */
    private static boolean rebiases(WeightMatrix w) {
        return MatMul.FOUR_ROWS && w.asFloatTensor().dtype() == DType.F16;
    }

    /**
     * The copy, or the matrix's own bytes where the budget is spent or an F16 matrix that is to be {@link
     * F16Rebiased} holds a value that cannot be (magnitude 128 or more, infinite, NaN): that matrix is decoded in
     * place.
     */
    private static MemorySegment copy(WeightMatrix m, Arena arena, long bytes) {
        boolean rebias = rebiases(m);
        if (rebias && maxF16Exponent(m.data(), bytes) > F16Rebiased.MAX_EXPONENT) {
            return m.data();
        }
        if (RESERVED.addAndGet(bytes) > BUDGET) {
            RESERVED.addAndGet(-bytes);
            return m.data();
        }
        // when the matrix lets its copy go (the arena closes), the budget gets the bytes back
        MemorySegment.NULL.reinterpret(0, arena, s -> RESERVED.addAndGet(-bytes));
        MemorySegment copy = HugePageMemory.allocate(bytes, arena);
        int panel = panelCols(m);
        long size = m.asFloatTensor().dtype().byteSize();
        long rowBytes = m.cols() * size;
        int rows = m.rows();
        Parallel.forRange((m.cols() + panel - 1) / panel, p -> {
            int c0 = p * panel;
            long width = Math.min(panel, m.cols() - c0) * size;
            long base = (long) rows * c0 * size;
            for (long r = 0; r < rows; r++) {
                if (rebias) {
                    rebiasF16s(m.data(), r * rowBytes + c0 * size, copy, base + r * width, width / 2);
                } else {
                    MemorySegment.copy(m.data(), r * rowBytes + c0 * size, copy, base + r * width, width);
                }
            }
        });
        return copy;
    }

    private static final VectorSpecies<Short> SHORTS = ShortVector.SPECIES_PREFERRED;

    /** The largest exponent field of the F16 values in data's first bytes (31: an infinity or NaN), in parallel. */
    static int maxF16Exponent(MemorySegment data, long bytes) {
        long values = bytes / 2;
        int chunks = (int) Math.max(1, Math.min(256, values >>> 20));
        AtomicInteger max = new AtomicInteger();
        Parallel.forRange(chunks, k -> max.accumulateAndGet(maxF16Exponent(data, values * k / chunks,
                values * (k + 1) / chunks), Math::max));
        return max.get();
    }

    private static int maxF16Exponent(MemorySegment data, long from, long to) {
        ShortVector max = ShortVector.zero(SHORTS);
        long i = from;
        for (; i + SHORTS.length() <= to; i += SHORTS.length()) {
            ShortVector v = ShortVector.fromMemorySegment(SHORTS, data, 2 * i, ByteOrder.LITTLE_ENDIAN);
            max = max.max(v.and(F16_EXPONENT));
        }
        int m = max.reduceLanes(VectorOperators.MAX);
        for (; i < to; i++) {
            m = Math.max(m, data.get(Tensor.I16, 2 * i) & F16_EXPONENT);
        }
        return m >>> 10;
    }

    /**
     * dst[dstOff ..] = the count F16 values at src[srcOff ..] re-encoded ({@link F16Rebiased#of}; each has an exponent
     * field of at most {@link F16Rebiased#MAX_EXPONENT}): normal values in vector lanes, a vector with a subnormal in
     * scalar code.
     */
    private static void rebiasF16s(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long count) {
        long i = 0;
        for (; i + SHORTS.length() <= count; i += SHORTS.length()) {
            ShortVector v = ShortVector.fromMemorySegment(SHORTS, src, srcOff + 2 * i, ByteOrder.LITTLE_ENDIAN);
            VectorMask<Short> zeroExponent = v.and(F16_EXPONENT).compare(VectorOperators.EQ, 0);
            if (zeroExponent.and(v.and((short) 0x3FF).compare(VectorOperators.NE, 0)).anyTrue()) {
                rebiasOneByOne(src, srcOff, dst, dstOff, i, i + SHORTS.length());
            } else {
                v.add((short) (F16Rebiased.REBIAS << 10), zeroExponent.not())
                        .intoMemorySegment(dst, dstOff + 2 * i, ByteOrder.LITTLE_ENDIAN);
            }
        }
        rebiasOneByOne(src, srcOff, dst, dstOff, i, count);
    }

    private static void rebiasOneByOne(MemorySegment src, long srcOff, MemorySegment dst, long dstOff, long from,
                                       long to) {
        for (long i = from; i < to; i++) {
            dst.set(Tensor.I16, dstOff + 2 * i, (short) F16Rebiased.of(src.get(Tensor.I16, srcOff + 2 * i)));
        }
    }

    private static final short F16_EXPONENT = 0x7C00;
}
