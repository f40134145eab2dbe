package dev.qforge.kernel;

import dev.qforge.numeric.FloatBits;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Locale;

/**
 * Kernel speeds on this machine (not a test). Run after {@code ./mvnw -q compile}:
 * <pre>java --add-modules jdk.incubator.vector -cp target/classes dev.qforge.kernel.KernelBenchmark</pre>
 * Uses 2 threads unless -Dqforge.threads is given. Prints, for each timed run, the read bandwidth probed
 * right before and right after it (the 2-thread bandwidth of this machine kind is bimodal).
 *
 * <ul>
 *   <li>probe: sum of a 1 GiB off-heap segment with the Vector API over all threads, median of 5;</li>
 *   <li>matvec (n=1) on [8192, 2048] in F32, BF16 and F16: GB/s of weight bytes read, median of the
 *       reps; the weights are rotated over several copies (≥ 256 MiB in all) so none stays in L3;</li>
 *   <li>an FMA peak probe (a register-only FMA loop on all threads), before and after;</li>
 *   <li>matmul n=128 and n=512 on [2048, 2048]: GFLOP/s (2·rows·cols·n per call), median of the reps,
 *       as a share of the FMA peak probed in the same run.</li>
 * </ul>
 */
public final class KernelBenchmark {
    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final int L = FS.length();

    private KernelBenchmark() {
    }

    public static void main(String[] args) {
        if (System.getProperty("qforge.threads") == null) {
            System.setProperty("qforge.threads", "2");
        }
        int threads = Parallel.threads();
        System.out.printf(Locale.ROOT, "qforge kernel benchmark: %d threads, %d-bit vectors, java %s%n", threads,
                FS.vectorBitSize(), System.getProperty("java.version"));
        System.out.println("machine: " + cpuModel() + "; load average before: " + loadAverage()
                + " (other busy processes skew every number below)");
        double peak = FmaPeak.measureGflops();
        System.out.printf(Locale.ROOT, "FMA peak probe (%d threads, 512-bit FMA loop, 12 chains): %.1f GFLOP/s%n",
                threads, peak);
        Arena arena = Arena.ofShared();
        MemorySegment probe = arena.allocate(1L << 30, 64);
        fill(probe);
        double bw = MemoryBandwidth.measureGBps(probe, 5);
        System.out.printf(Locale.ROOT, "read-bandwidth probe (1 GiB, %d threads): %.1f GB/s%n", threads, bw);

        int rows = 8192;
        int cols = 2048;
        float[] x = randomVector(cols, 7);
        float[] out = new float[rows];
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            long bytes = (long) rows * cols * dt.byteSize();
            int copies = (int) Math.max(2, (256L << 20) / bytes);
            Tensor[] ws = new Tensor[copies];
            for (int i = 0; i < copies; i++) {
                ws[i] = randomTensor(arena, dt, rows, cols, 100 + i);
            }
            // Warm up (JIT).
            for (int i = 0; i < 300; i++) {
                MatMul.matmul(ws[i % copies], x, 1, out);
            }
            int reps = 15;
            double[] gbs = new double[reps];
            double before = MemoryBandwidth.measureGBps(probe, 3);
            for (int rep = 0; rep < reps; rep++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < copies; i++) {
                    MatMul.matmul(ws[i], x, 1, out);
                }
                long t1 = System.nanoTime();
                gbs[rep] = (double) bytes * copies / (t1 - t0);
            }
            double after = MemoryBandwidth.measureGBps(probe, 3);
            double med = median(gbs);
            System.out.printf(Locale.ROOT,
                    "matvec %-4s [%d, %d]: %.1f GB/s median of %d (min %.1f, max %.1f) = %.2f ms/call;"
                            + " probe before %.1f, after %.1f GB/s -> %.0f%% of the probe%n",
                    dt, rows, cols, med, reps, min(gbs), max(gbs), bytes / med / 1e6, before, after,
                    100 * med / ((before + after) / 2));
        }

        int size = 2048;
        for (int n : new int[] {128, 512}) {
            for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
                float[] xs = randomVector(n * size, 9);
                float[] outs = new float[n * size];
                Tensor w = randomTensor(arena, dt, size, size, 5);
                for (int i = 0; i < 30 * 128 / n; i++) {
                    MatMul.matmul(w, xs, n, outs);
                }
                int reps = n > 128 ? 7 : 15;
                double[] gf = new double[reps];
                for (int rep = 0; rep < reps; rep++) {
                    long t0 = System.nanoTime();
                    MatMul.matmul(w, xs, n, outs);
                    long t1 = System.nanoTime();
                    gf[rep] = 2.0 * size * size * n / (t1 - t0);
                }
                double med = median(gf);
                System.out.printf(Locale.ROOT,
                        "matmul %-4s [%d, %d] n=%d: %.1f GFLOP/s median of %d (min %.1f, max %.1f) = %.2f ms/call;"
                                + " %.0f%% of the FMA peak probed now (%.0f)%n",
                        dt, size, size, n, med, reps, min(gf), max(gf), 2.0 * size * size * n / med / 1e6,
                        100 * med / peak, peak);
            }
        }
        System.out.printf(Locale.ROOT, "FMA peak probe again: %.1f GFLOP/s; load average after: %s%n", FmaPeak.measureGflops(),
                loadAverage());
        if (args.length > 0 && args[0].equals("--sweep")) {
            sweep(arena);
        }
    }

    private static String cpuModel() {
        String model = dev.qforge.CpuInfo.field("model name");
        return model.isEmpty() ? System.getProperty("os.arch")
                : model + ", " + Runtime.getRuntime().availableProcessors() + " CPUs";
    }

    private static String loadAverage() {
        try {
            return java.nio.file.Files.readString(java.nio.file.Path.of("/proc/loadavg")).trim();
        } catch (java.io.IOException | RuntimeException e) {
            return "?";
        }
    }

    /** GFLOP/s of matmul for several n (F32/BF16/F16 on [2048, 2048]): where the GEMM overtakes n matvecs. */
    private static void sweep(Arena arena) {
        int size = 2048;
        for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
            Tensor w = randomTensor(arena, dt, size, size, 5);
            StringBuilder sb = new StringBuilder("sweep " + dt + ":");
            for (int n : new int[] {1, 2, 3, 4, 6, 8, 11, 12, 16, 24, 32, 64, 256, 512}) {
                float[] xs = randomVector(n * size, 9);
                float[] outs = new float[n * size];
                for (int i = 0; i < 20; i++) {
                    MatMul.matmul(w, xs, n, outs);
                }
                double[] gf = new double[9];
                for (int rep = 0; rep < gf.length; rep++) {
                    long t0 = System.nanoTime();
                    MatMul.matmul(w, xs, n, outs);
                    gf[rep] = 2.0 * size * size * n / (System.nanoTime() - t0);
                }
                sb.append(String.format(Locale.ROOT, " n=%d %.0f", n, median(gf)));
            }
            System.out.println(sb + " GFLOP/s");
        }
    }

    private static void fill(MemorySegment seg) {
        long n = seg.byteSize() / 8;
        int tasks = 256;
        long per = n / tasks;
        Parallel.forRange(tasks, t -> {
            for (long i = t * per; i < (t + 1) * per; i++) {
                seg.setAtIndex(Tensor.I64, i, 0x3C00_0000_3C00_0000L + (i & 0xFF));
            }
        });
    }

    static float[] randomVector(int n, long seed) {
        float[] v = new float[n];
        long s = seed * 0x9E3779B97F4A7C15L + 1;
        for (int i = 0; i < n; i++) {
            s = s * 6364136223846793005L + 1442695040888963407L;
            v[i] = gaussian(s);
        }
        return v;
    }

    /** An approximately N(0, 1) value from the bits of s (sum of four uniform 16-bit fields). */
    private static float gaussian(long s) {
        int a = (int) (s >>> 48), b = (int) (s >>> 32) & 0xFFFF, c = (int) (s >>> 16) & 0xFFFF, d = (int) s & 0xFFFF;
        return ((a + b + c + d) / 65536f - 2f) * 1.7320508f;
    }

    /** [rows, cols] of ~N(0, 0.02) values (as in a real model, including some F16 subnormals), at an odd offset. */
    static Tensor randomTensor(Arena arena, DType dt, int rows, int cols, long seed) {
        long count = (long) rows * cols;
        long bytes = count * dt.byteSize();
        MemorySegment seg = arena.allocate(bytes + 64, 64).asSlice(2, bytes);
        int tasks = 64;
        long per = (count + tasks - 1) / tasks;
        Parallel.forRange(tasks, t -> {
            long s = (seed * 1000 + t) * 0x9E3779B97F4A7C15L + 1;
            for (long i = t * per; i < Math.min(count, (t + 1) * per); i++) {
                s = s * 6364136223846793005L + 1442695040888963407L;
                float v = 0.02f * gaussian(s);
                switch (dt) {
                    case F32 -> seg.setAtIndex(Tensor.F32, i, v);
                    case BF16 -> seg.setAtIndex(Tensor.I16, i, FloatBits.floatToBf16(v));
                    case F16 -> seg.setAtIndex(Tensor.I16, i, FloatBits.floatToF16(v));
                    default -> throw new IllegalArgumentException(dt.toString());
                }
            }
        });
        return new Tensor("bench." + dt, dt, new long[] {rows, cols}, seg.asReadOnly());
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double min(double[] v) {
        return Arrays.stream(v).min().orElse(Double.NaN);
    }

    private static double max(double[] v) {
        return Arrays.stream(v).max().orElse(Double.NaN);
    }
}
