package dev.qforge.kernel;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;

/**
 * The FP32 compute ceiling of this machine as the Vector API reaches it: a register-only loop of 12
 * independent FMA chains on every thread of {@link Parallel}. Prefill GFLOP/s are reported against it,
 * measured in the same run, since the ceiling depends on the CPU generation (Zen 4 runs 512-bit FMAs at
 * half the rate of Zen 5) and on what else shares the cores.
 */
public final class FmaPeak {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int CHAINS = 12;

    private FmaPeak() {
    }

    /** GFLOP/s on all threads: the median of 5 timed runs after a warm-up. */
    public static double measureGflops() {
        int threads = Parallel.threads();
        float[] sink = new float[threads];
        for (int i = 0; i < 200; i++) {
            Parallel.forRange(threads, t -> sink[t] += fmaLoop(sink[t], 1000));
        }
        double[] r = new double[5];
        int calls = 200;
        int iters = 10_000;
        for (int rep = 0; rep < r.length; rep++) {
            long t0 = System.nanoTime();
            Parallel.forRange(threads, t -> {
                for (int i = 0; i < calls; i++) {
                    sink[t] += fmaLoop(sink[t], iters);
                }
            });
            r[rep] = 2.0 * S.length() * CHAINS * iters * calls * threads / (System.nanoTime() - t0);
        }
        Arrays.sort(r);
        return r[r.length / 2];
    }

    private static float fmaLoop(float seed, int iters) {
        FloatVector x0 = FloatVector.broadcast(S, 1e-7f + seed * 1e-30f);
        FloatVector x1 = FloatVector.broadcast(S, 0.999f);
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
        FloatVector a6 = a0, a7 = a0, a8 = a0, a9 = a0, a10 = a0, a11 = a0;
        for (int i = 0; i < iters; i++) {
            a0 = a0.fma(x1, x0);
            a1 = a1.fma(x1, x0);
            a2 = a2.fma(x1, x0);
            a3 = a3.fma(x1, x0);
            a4 = a4.fma(x1, x0);
            a5 = a5.fma(x1, x0);
            a6 = a6.fma(x1, x0);
            a7 = a7.fma(x1, x0);
            a8 = a8.fma(x1, x0);
            a9 = a9.fma(x1, x0);
            a10 = a10.fma(x1, x0);
            a11 = a11.fma(x1, x0);
        }
        return Lanes.sum(a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11));
    }
}
