package dev.qforge.eval;

import java.util.Arrays;

/**
 * What quantization did to a model's predictions, token by token, against a base (full-precision) model
 * on the same positions: the statistics llama.cpp's perplexity tool prints with --kl-divergence.
 * Per scored token: KL(base ‖ model) over the vocabulary, Δp = p_model(target) − p_base(target), whether
 * both put the same token on top, and both negative log-likelihoods.
 */
public final class KlDivergence {
    private float[] kld = new float[1024];
    private float[] deltaP = new float[1024];
    private double[] nllBase = new double[1024];
    private double[] nllModel = new double[1024];
    private long sameTop;
    private int count;
    private double kldSum;

    /**
     * Adds one scored position.
     *
     * @param base   the base model's log-probabilities, base[bOff .. bOff + vocab)
     * @param logits the measured model's logits, logits[lOff .. lOff + vocab)
     */
    public void add(float[] base, int bOff, float[] logits, int lOff, int vocab, int target) {
        double lse = LogSoftmax.logSumExp(logits, lOff, vocab);
        double sum = 0;
        int topBase = 0;
        int topModel = 0;
        for (int i = 0; i < vocab; i++) {
            float b = base[bOff + i];
            double q = logits[lOff + i] - lse;
            sum += Math.exp(b) * (b - q);
            if (b > base[bOff + topBase]) {
                topBase = i;
            }
            if (logits[lOff + i] > logits[lOff + topModel]) {
                topModel = i;
            }
        }
        ensureCapacity();
        double lpModel = logits[lOff + target] - lse;
        kld[count] = (float) Math.max(sum, 0); // rounding of near-identical distributions can dip below zero
        kldSum += kld[count];
        deltaP[count] = (float) (Math.exp(lpModel) - Math.exp(base[bOff + target]));
        nllBase[count] = -base[bOff + target];
        nllModel[count] = -lpModel;
        if (topBase == topModel) {
            sameTop++;
        }
        count++;
    }

    private void ensureCapacity() {
        if (count == kld.length) {
            int n = count * 2;
            kld = Arrays.copyOf(kld, n);
            deltaP = Arrays.copyOf(deltaP, n);
            nllBase = Arrays.copyOf(nllBase, n);
            nllModel = Arrays.copyOf(nllModel, n);
        }
    }

    public int count() {
        return count;
    }

    /** Mean KLD so far. */
    public double meanKld() {
        return count == 0 ? Double.NaN : kldSum / count;
    }

    /** A mean with its standard error. */
    public record Estimate(double value, double error) {
    }

    /** Distribution summary of a per-token quantity: the percentiles llama.cpp prints. */
    public record Distribution(double max, double p999, double p99, double p95, double p90, double median,
                               double p10, double p5, double p1, double p01, double min) {
        static Distribution of(float[] values, int n) {
            float[] s = Arrays.copyOf(values, n);
            Arrays.sort(s);
            return new Distribution(s[n - 1], at(s, 0.999), at(s, 0.99), at(s, 0.95), at(s, 0.90), at(s, 0.5),
                    at(s, 0.10), at(s, 0.05), at(s, 0.01), at(s, 0.001), s[0]);
        }

        /** Linear interpolation between the two nearest ranks. */
        private static double at(float[] sorted, double q) {
            double pos = q * (sorted.length - 1);
            int lo = (int) Math.floor(pos);
            int hi = Math.min(sorted.length - 1, lo + 1);
            return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
        }
    }

    public record Result(int tokens, Estimate pplModel, Estimate pplBase, double nllCorrelation, Estimate logPplRatio,
                         Estimate pplRatio, Estimate pplDifference, Estimate kld, Distribution kldDistribution,
                         Estimate deltaP, Distribution deltaPDistribution, Estimate rmsDeltaP, Estimate sameTop) {
    }

    public Result result() {
        if (count < 2) {
            throw new IllegalStateException("need at least two scored tokens, have " + count);
        }
        int n = count;
        double mb = mean(nllBase);
        double mm = mean(nllModel);
        double vb = variance(nllBase, mb);
        double vm = variance(nllModel, mm);
        double cov = 0;
        double[] diff = new double[n];
        for (int i = 0; i < n; i++) {
            cov += (nllBase[i] - mb) * (nllModel[i] - mm);
            diff[i] = nllModel[i] - nllBase[i];
        }
        cov /= n - 1;
        double pplBase = Math.exp(mb);
        double pplModel = Math.exp(mm);
        double md = mean(diff);
        double sd = Math.sqrt(variance(diff, md) / n);
        // PPL = exp(mean NLL): errors carried through exp() (the delta method), with the covariance of the
        // two runs for the difference, since both score the same tokens.
        double errBase = pplBase * Math.sqrt(vb / n);
        double errModel = pplModel * Math.sqrt(vm / n);
        double errDifference = Math.sqrt(Math.max(0, errModel * errModel + errBase * errBase
                - 2 * pplModel * pplBase * cov / n));

        double[] k = toDouble(kld, n);
        double mk = mean(k);
        double[] dp = toDouble(deltaP, n);
        double mdp = mean(dp);
        double meanSquare = 0;
        double fourth = 0;
        for (double v : dp) {
            meanSquare += v * v;
            fourth += v * v * v * v;
        }
        meanSquare /= n;
        fourth /= n;
        double rms = Math.sqrt(meanSquare);
        double rmsError = rms > 0 ? Math.sqrt(Math.max(0, fourth - meanSquare * meanSquare) / (n - 1)) / (2 * rms) : 0;
        double top = (double) sameTop / n;

        return new Result(n,
                new Estimate(pplModel, errModel),
                new Estimate(pplBase, errBase),
                cov / Math.sqrt(vb * vm),
                new Estimate(md, sd),
                new Estimate(Math.exp(md), Math.exp(md) * sd),
                new Estimate(pplModel - pplBase, errDifference),
                new Estimate(mk, Math.sqrt(variance(k, mk) / n)),
                Distribution.of(kld, n),
                new Estimate(mdp, Math.sqrt(variance(dp, mdp) / n)),
                Distribution.of(deltaP, n),
                new Estimate(rms, rmsError),
                new Estimate(top, Math.sqrt(top * (1 - top) / (n - 1))));
    }

    private double mean(double[] v) {
        double s = 0;
        for (int i = 0; i < count; i++) {
            s += v[i];
        }
        return s / count;
    }

    private double variance(double[] v, double mean) {
        double s = 0;
        for (int i = 0; i < count; i++) {
            s += (v[i] - mean) * (v[i] - mean);
        }
        return s / (count - 1);
    }

    private static double[] toDouble(float[] v, int n) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            d[i] = v[i];
        }
        return d;
    }
}
