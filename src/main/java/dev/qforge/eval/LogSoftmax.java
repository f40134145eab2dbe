package dev.qforge.eval;

/** Log-probabilities from a row of logits, with the max subtracted and the sum of exponentials in double, as llama.cpp does. */
public final class LogSoftmax {
    private LogSoftmax() {
    }

    /** log p(token) for the logits in row[off .. off+n). */
    public static double logProbability(float[] logits, int off, int n, int token) {
        return logits[off + token] - logSumExp(logits, off, n);
    }

    /** log Σ exp(logits), stable. */
    public static double logSumExp(float[] logits, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(logits[off + i] - max);
        }
        return max + Math.log(sum);
    }
}
