package dev.qforge.quant.gptq;

import dev.qforge.kernel.FmaPeak;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.blocks.BlockFormat;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;

/**
 * GPTQ's arithmetic on one matrix shape, timed part by part against the FMA peak measured in the same run
 * (before and after, as the machine's speed drifts): the Hessian sum, the factorization, and the sweep with
 * its lazy updates. Inputs are random with a few correlated directions and loud channels, like real
 * activations; the timings do not depend on the values.
 */
public final class GptqBenchmark {
    /** Seconds and GFLOP/s of each part (medians over the repetitions), with the peak they are held against. */
    public record Result(int rows, int cols, String format, int tokens, double hessianSeconds, double hessianGflops,
                         double factorSeconds, double factorGflops, double sweepSeconds, double sweepGflops,
                         double updateShare, double updateGflops, double fmaPeakGflops) {
    }

    /** The left-to-right sweep, whose block scales are chosen as it goes (the figures in docs/BENCHMARKS.md). */
    private static final GptqQuantizer.Settings NATURAL_ORDER = new GptqQuantizer.Settings(0.01, 6, false);

    private static boolean warmedUp;

    private GptqBenchmark() {
    }

    public static Result run(int rows, int cols, BlockFormat format, int tokens, int reps) {
        Random r = new Random(7);
        int latent = 16;
        float[] mix = new float[latent * cols];
        for (int i = 0; i < mix.length; i++) {
            mix[i] = (float) r.nextGaussian();
        }
        int chunk = Math.min(tokens, 512);
        float[] x = new float[chunk * cols];
        float[] z = new float[latent];
        for (int t = 0; t < chunk; t++) {
            for (int l = 0; l < latent; l++) {
                z[l] = (float) r.nextGaussian();
            }
            for (int c = 0; c < cols; c++) {
                float v = (float) r.nextGaussian();
                for (int l = 0; l < latent; l++) {
                    v += 0.3f * z[l] * mix[l * cols + c];
                }
                x[t * cols + c] = v * (c % 97 == 0 ? 10 : 1);
            }
        }
        float[] w0 = new float[Math.multiplyExact(rows, cols)];
        for (int i = 0; i < w0.length; i++) {
            w0[i] = (float) (r.nextGaussian() * 0.02);
        }
        MemorySegment out = MemorySegment.ofArray(new byte[Math.toIntExact(rows * format.rowBytes(cols))]);
        double peakBefore = FmaPeak.measureGflops();
        double[][] parts = new double[8][reps];
        // the process's first shape gets a warm-up repetition (−1), so that no median includes the kernels' compilation
        for (int rep = warmedUp ? 0 : -1; rep < reps; rep++) {
            GptqWork.TOTAL.reset();
            Hessian h = new Hessian(cols);
            for (int t = 0; t < tokens; t += chunk) {
                h.add(x, Math.min(chunk, tokens - t));
            }
            float[] w = w0.clone();
            GptqQuantizer.quantize("benchmark", w, rows, cols, h, format, out, NATURAL_ORDER, s -> { });
            GptqWork g = GptqWork.TOTAL;
            double[] v = {g.hessianSeconds(), g.hessianGflops(), g.factorSeconds(), g.factorGflops(), g.sweepSeconds(),
                    g.sweepGflops(), g.updateShare(), g.updateGflops(Parallel.threads())};
            for (int p = 0; p < v.length && rep >= 0; p++) {
                parts[p][rep] = v[p];
            }
        }
        warmedUp = true;
        double peak = Math.max(peakBefore, FmaPeak.measureGflops());
        return new Result(rows, cols, format.name(), tokens, median(parts[0]), median(parts[1]), median(parts[2]),
                median(parts[3]), median(parts[4]), median(parts[5]), median(parts[6]), median(parts[7]), peak);
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
