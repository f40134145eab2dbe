package dev.qforge.quant.gptq;

import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where a calibrated run's arithmetic goes, counted as it happens: the Hessian sums, the factorizations and
 * GPTQ's sweeps with their lazy updates, each as useful floating-point operations and time: tokens·n·(n+1)
 * for a Hessian of width n (its upper triangle's multiply-adds, which is all that is computed), 4n³/3 for a
 * factor, rows·cols² for a sweep. Compared with the FMA peak measured in the same run, it says how near the
 * kernels are to the machine.
 */
public final class GptqWork {
    private final LongAdder hessianNanos = new LongAdder();
    private final LongAdder hessianFlops = new LongAdder();
    private final LongAdder factorNanos = new LongAdder();
    private final LongAdder factorFlops = new LongAdder();
    private final LongAdder sweepNanos = new LongAdder();
    private final LongAdder sweepFlops = new LongAdder();
    /** Thread time in the lazy updates between batches, and their multiply-adds ×2. */
    private final LongAdder updateNanos = new LongAdder();
    private final LongAdder updateFlops = new LongAdder();
    /** Thread time in the batches themselves: scale searches, rounding, errors spread within the batch. */
    private final LongAdder batchNanos = new LongAdder();

    /** The counters of this process (a run resets them first). */
    public static final GptqWork TOTAL = new GptqWork();

    public void reset() {
        for (LongAdder a : new LongAdder[]{hessianNanos, hessianFlops, factorNanos, factorFlops, sweepNanos, sweepFlops, updateNanos, updateFlops, batchNanos}) {
            a.reset();
        }
    }

    void hessian(long nanos, long tokens, int n) {
        hessianNanos.add(nanos);
        hessianFlops.add(tokens * n * (n + 1L));
    }

    void factor(long nanos, int n) {
        factorNanos.add(nanos);
        factorFlops.add(4L * n * n * n / 3);
    }

    void sweep(long nanos, int rows, int cols) {
        sweepNanos.add(nanos);
        sweepFlops.add((long) rows * cols * cols);
    }

    void update(long threadNanos, long flops) {
        updateNanos.add(threadNanos);
        updateFlops.add(flops);
    }

    void batch(long threadNanos) {
        batchNanos.add(threadNanos);
    }

    /** The share of the sweeps' thread time spent in the lazy updates. */
    public double updateShare() {
        long all = updateNanos.sum() + batchNanos.sum();
        return all == 0 ? 0 : updateNanos.sum() / (double) all;
    }

    /** The lazy updates' rate: their operations over their thread time, times the threads that ran them. */
    public double updateGflops(int threads) {
        return rate(updateFlops.sum(), updateNanos.sum()) * threads;
    }

    public double hessianSeconds() {
        return hessianNanos.sum() / 1e9;
    }

    public double hessianGflops() {
        return rate(hessianFlops.sum(), hessianNanos.sum());
    }

    public double factorSeconds() {
        return factorNanos.sum() / 1e9;
    }

    public double factorGflops() {
        return rate(factorFlops.sum(), factorNanos.sum());
    }

    public double sweepSeconds() {
        return sweepNanos.sum() / 1e9;
    }

    public double sweepGflops() {
        return rate(sweepFlops.sum(), sweepNanos.sum());
    }

    private static double rate(long flops, long nanos) {
        return nanos == 0 ? 0 : flops / (double) nanos;
    }

    /** One line: each part's seconds and GFLOP/s. */
    public String summary() {
        return String.format(Locale.ROOT, "Hessians %.1f s (%.0f GFLOP/s), factors %.1f s (%.0f GFLOP/s), GPTQ sweeps %.1f s (%.0f GFLOP/s; %.0f %% of it in the lazy updates, at %.0f GFLOP/s)",
                hessianSeconds(), hessianGflops(), factorSeconds(), factorGflops(), sweepSeconds(), sweepGflops(),
                100 * updateShare(), updateGflops(dev.qforge.kernel.Parallel.threads()));
    }
}
