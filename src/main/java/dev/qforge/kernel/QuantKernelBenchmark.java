package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.kernel.blocks.InterleavedLayout;
import dev.qforge.kernel.blocks.QuantizedInput;
import dev.qforge.tensor.WeightMatrix;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Locale;

/**
 * Decode (n=1) matvec speed of the block formats (not a test). Run after {@code ./mvnw -q compile}:
 * <pre>java --add-modules jdk.incubator.vector -cp target/classes dev.qforge.kernel.QuantKernelBenchmark [FORMAT ...]</pre>
 * Uses 2 threads unless -Dqforge.threads is given. For each format: a [8192, 2048] matrix of N(0, 0.02)
 * rows quantized with the format's own quantize, copied so the copies total ≥ 256 MiB (none stays in
 * L3), multiplied through {@link MatMul#matmul(WeightMatrix, float[], int, float[])} with n=1; prints GB/s
 * of quantized bytes read and G weights/s (medians), next to a read-bandwidth probe taken right before
 * and right after.
 */
public final class QuantKernelBenchmark {
    private QuantKernelBenchmark() {
    }

    /** Rows per in-cache measurement: 64 rows of 2048 columns stay in L2. */
    private static final int CACHED_ROWS = 64;

    /** G weights/s of format.dot over CACHED_ROWS rows, on the calling thread: the kernel's compute speed. */
    private static double cachedDot(BlockFormat f, MemorySegment base, long rowBytes, int cols, float[] x) {
        float[] sink = new float[CACHED_ROWS];
        return bestInCache(CACHED_ROWS, cols, () -> {
            for (int r = 0; r < CACHED_ROWS; r++) {
                sink[r] += f.dot(base, r * rowBytes, cols, x, 0);
            }
        });
    }

    /**
     * Rows per in-cache measurement of an interleaved kernel: four groups, so that a layout that takes groups four at a
     * time ({@link InterleavedLayout#groupsPerStep}) runs that kernel; 128 rows of 2048 columns of Q8_0 are 278 KB.
     */
    private static final int CACHED_GROUP_ROWS = 4 * InterleavedLayout.ROWS;

    /** G weights/s of the format's interleaved decode kernel over CACHED_GROUP_ROWS rows, on the calling thread. */
    private static double cachedInterleaved(WeightMatrix w, float[] x) {
        InterleavedLayout layout = w.format().interleavedLayout();
        MemorySegment packed = InterleavedMatVec.packed(w, layout);
        int cols = w.cols();
        long groupBytes = layout.groupStride(cols);
        QuantizedInput q = new QuantizedInput().set(x, 0, cols);
        layout.prepare(q);
        float[] out = new float[CACHED_GROUP_ROWS];
        int groups = CACHED_GROUP_ROWS / InterleavedLayout.ROWS;
        return bestInCache(CACHED_GROUP_ROWS, cols,
                () -> layout.dotGroups(packed, 0, groupBytes, groups, cols, q, out, 0, CACHED_GROUP_ROWS));
    }

    /** Best G weights/s of 25 timed repetitions (after 15 warm-up ones) of 50 passes over rows × cols weights. */
    private static double bestInCache(int rows, int cols, Runnable pass) {
        double best = 0;
        for (int rep = 0; rep < 40; rep++) {
            long t0 = System.nanoTime();
            for (int p = 0; p < 50; p++) {
                pass.run();
            }
            double gw = 50.0 * rows * cols / (System.nanoTime() - t0);
            if (rep >= 15) {
                best = Math.max(best, gw);
            }
        }
        return best;
    }

    public static void main(String[] args) {
        if (System.getProperty("qforge.threads") == null) {
            System.setProperty("qforge.threads", "2");
        }
        String[] names = args.length > 0 ? args : new String[] {"Q8_0", "Q4_0", "Q4_K", "Q6_K", "Q5_K", "IQ4_XS"};
        int reps = Integer.getInteger("qforge.bench.reps", 11);
        System.out.printf(Locale.ROOT, "qforge quantized matvec benchmark: %d threads, java %s%n", Parallel.threads(),
                System.getProperty("java.version"));
        Arena arena = Arena.ofShared();
        MemorySegment probe = arena.allocate(1L << 30, 64);
        probe.fill((byte) 1);
        int rows = 8192;
        int cols = 2048;
        float[] x = KernelBenchmark.randomVector(cols, 7);
        float[] out = new float[rows];
        // one quantized source matrix per format; copies are byte copies of it
        float[] src = new float[rows * cols];
        float[] rand = KernelBenchmark.randomVector(rows * cols, 11);
        for (int i = 0; i < src.length; i++) {
            src[i] = 0.02f * rand[i];
        }
        for (String name : names) {
            BlockFormat f = BlockFormats.byName(name);
            long rowBytes = f.rowBytes(cols);
            long bytes = rows * rowBytes;
            MemorySegment base = arena.allocate(bytes, 64);
            // the lattice formats refuse to quantize without importance: equal importance everywhere
            float[] importance = f.needsImportance() ? new float[cols] : null;
            if (importance != null) {
                Arrays.fill(importance, 1f);
            }
            Parallel.forRange(rows / 64, t -> {
                for (int r = t * 64; r < t * 64 + 64; r++) {
                    f.quantize(src, r * cols, cols, importance, base, r * rowBytes);
                }
            });
            int copies = (int) Math.max(2, (256L << 20) / bytes);
            WeightMatrix[] ws = new WeightMatrix[copies];
            for (int i = 0; i < copies; i++) {
                MemorySegment seg = arena.allocate(bytes + 64, 64).asSlice(2, bytes); // odd alignment, as in files
                seg.copyFrom(base);
                ws[i] = new WeightMatrix("bench." + name + "." + i, f, rows, cols, seg.asReadOnly());
            }
            for (int i = 0; i < 200; i++) {
                MatMul.matmul(ws[i % copies], x, 1, out);
            }
            double[] gbs = new double[reps];
            double before = MemoryBandwidth.measureGBps(probe, 3);
            for (int rep = 0; rep < reps; rep++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < copies; i++) {
                    MatMul.matmul(ws[i], x, 1, out);
                }
                gbs[rep] = (double) bytes * copies / (System.nanoTime() - t0);
            }
            double after = MemoryBandwidth.measureGBps(probe, 3);
            Arrays.sort(gbs);
            double med = gbs[reps / 2];
            double gw = med * cols * rows / bytes;
            System.out.printf(Locale.ROOT,
                    "matvec %-6s [%d, %d] %.2f MB: %5.1f GB/s = %5.1f G weights/s (min %.1f, max %.1f GB/s);"
                            + " probe before %.1f, after %.1f GB/s -> %3.0f%% of the probe%n",
                    name, rows, cols, bytes / 1e6, med, gw, gbs[0], gbs[reps - 1], before, after,
                    100 * med / ((before + after) / 2));
            System.out.printf(Locale.ROOT, "  dot %-6s in cache, 1 thread: %5.1f G weights/s (best of 25)%n", name,
                    cachedDot(f, base, rowBytes, cols, x));
            if (f.interleavedLayout() != null) {
                System.out.printf(Locale.ROOT, "  interleaved %-6s in cache, 1 thread: %5.1f G weights/s (best of 25)%n",
                        name, cachedInterleaved(ws[0], x));
            }
        }
    }
}
