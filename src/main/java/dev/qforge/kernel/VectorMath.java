package dev.qforge.kernel;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The small vector operations of a decoder step on float arrays: dot products,
 * RMSNorm, softmax, SwiGLU and residual adds. Short methods, called often, so C2 compiles them whole.
 */
public final class VectorMath {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    private VectorMath() {
    }

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
        }
        float sum = Lanes.sum(acc);
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    /** y[yOff..] += x[xOff..] over n elements (residual connections). */
    public static void add(float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xOff + i).add(FloatVector.fromArray(S, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += x[xOff + i];
        }
    }

    public static float sumOfSquares(float[] x, int off, int n) {
        FloatVector acc = FloatVector.zero(S);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector v = FloatVector.fromArray(S, x, off + i);
            acc = v.fma(v, acc);
        }
        float sum = Lanes.sum(acc);
        for (; i < n; i++) {
            sum += x[off + i] * x[off + i];
        }
        return sum;
    }

    /** out = x / sqrt(mean(x²) + eps) * weight, as Hugging Face's LlamaRMSNorm (in float32). */
    public static void rmsNorm(float[] x, int xOff, float[] weight, float eps, float[] out, int outOff, int n) {
        float scale = (float) (1.0 / Math.sqrt(sumOfSquares(x, xOff, n) / n + eps));
        FloatVector vs = FloatVector.broadcast(S, scale);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, xOff + i).mul(vs).mul(FloatVector.fromArray(S, weight, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = x[xOff + i] * scale * weight[i];
        }
    }

    /** In-place softmax over x[off..off+n); exponentials vectorized with {@link Lanes#exp}, so the result does not depend on JIT timing. */
    public static void softmax(float[] x, int off, int n) {
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            vmax = vmax.max(FloatVector.fromArray(S, x, off + i));
        }
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        FloatVector vm = FloatVector.broadcast(S, max);
        FloatVector vsum = FloatVector.zero(S);
        for (i = 0; i < bound; i += S.length()) {
            FloatVector e = Lanes.exp(FloatVector.fromArray(S, x, off + i).sub(vm));
            e.intoArray(x, off + i);
            vsum = vsum.add(e);
        }
        float sum = Lanes.sum(vsum);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        scale(x, off, n, 1f / sum);
    }

    /** gate[i] = silu(gate[i]) * up[i] = gate / (1 + e^-gate) * up, the SwiGLU of the MLP. */
    public static void siluMul(float[] gate, float[] up, int n) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector g = FloatVector.fromArray(S, gate, i);
            FloatVector denominator = Lanes.exp(g.neg()).add(one);
            g.div(denominator).mul(FloatVector.fromArray(S, up, i)).intoArray(gate, i);
        }
        for (; i < n; i++) {
            float g = gate[i];
            gate[i] = g / (1f + (float) Math.exp(-g)) * up[i];
        }
    }

    public static void scale(float[] x, int off, int n, float s) {
        FloatVector vs = FloatVector.broadcast(S, s);
        int i = 0;
        for (int bound = S.loopBound(n); i < bound; i += S.length()) {
            FloatVector.fromArray(S, x, off + i).mul(vs).intoArray(x, off + i);
        }
        for (; i < n; i++) {
            x[off + i] *= s;
        }
    }
}
