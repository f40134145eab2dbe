package dev.qforge.model;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token from logits: greedy (argmax) at temperature 0, otherwise temperature sampling
 * restricted to the smallest set of tokens whose probability reaches top-p (nucleus sampling). Seeded,
 * so the same seed gives the same text.
 */
public final class Sampler {
    private final float temperature;
    private final float topP;
    private final SplittableRandom random;
    private int[] order = new int[0];

    public Sampler(float temperature, float topP, long seed) {
        if (temperature < 0 || Float.isNaN(temperature)) {
            throw new IllegalArgumentException("--temperature must be >= 0, not " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("--top-p must be in (0, 1], not " + topP);
        }
        this.temperature = temperature;
        this.topP = topP;
        this.random = new SplittableRandom(seed);
    }

    public int next(float[] logits, int off, int n) {
        if (temperature == 0) {
            return argmax(logits, off, n);
        }
        float[] p = new float[n];
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            p[i] = (float) Math.exp((logits[off + i] - max) / temperature);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) {
            p[i] /= (float) sum;
        }
        return topP >= 1 ? sampleAll(p) : sampleNucleus(p);
    }

    private int sampleAll(float[] p) {
        double r = random.nextDouble();
        double cumulative = 0;
        for (int i = 0; i < p.length; i++) {
            cumulative += p[i];
            if (r < cumulative) {
                return i;
            }
        }
        return p.length - 1;
    }

    private int sampleNucleus(float[] p) {
        // Tokens below (1 - topP) / (n - 1) can never be in the nucleus: skip them before sorting.
        float cutoff = (1 - topP) / Math.max(1, p.length - 1);
        if (order.length < p.length) {
            order = new int[p.length];
        }
        int count = 0;
        for (int i = 0; i < p.length; i++) {
            if (p[i] >= cutoff) {
                order[count++] = i;
            }
        }
        Integer[] boxed = new Integer[count];
        for (int i = 0; i < count; i++) {
            boxed[i] = order[i];
        }
        Arrays.sort(boxed, (a, b) -> a.equals(b) ? 0 : p[b] != p[a] ? Float.compare(p[b], p[a]) : Integer.compare(a, b));
        double total = 0;
        int last = count - 1;
        for (int i = 0; i < count; i++) {
            total += p[boxed[i]];
            if (total > topP) {
                last = i;
                break;
            }
        }
        double r = random.nextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i <= last; i++) {
            cumulative += p[boxed[i]];
            if (r < cumulative) {
                return boxed[i];
            }
        }
        return boxed[last];
    }

    public static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (a[off + i] > a[off + best]) {
                best = i;
            }
        }
        return best;
    }
}
