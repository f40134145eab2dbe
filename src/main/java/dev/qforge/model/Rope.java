package dev.qforge.model;

/**
 * Rotary position embeddings, in either pairing of {@link RopeLayout}: rotate_half (Hugging Face) or
 * interleaved (Meta, llama.cpp's llama GGUF files). Cos/sin tables are computed in double once per
 * position and stored as float.
 */
public final class Rope {
    private final RopeLayout layout;
    private final int half;
    private final double[] invFreq;
    private float[] cos = new float[0];
    private float[] sin = new float[0];
    private int positions;

    public Rope(int headDim, double theta, RopeScaling scaling, RopeLayout layout) {
        this.layout = layout;
        this.half = headDim / 2;
        this.invFreq = new double[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = scaling.scale(1.0 / Math.pow(theta, (2.0 * i) / headDim));
        }
    }

    /** Makes sure positions [0, n) have tables; grows by doubling. Not thread-safe: call before parallel work. */
    public void ensurePositions(int n) {
        if (n <= positions) {
            return;
        }
        int newPositions = Math.max(n, Math.max(64, positions * 2));
        float[] c = new float[newPositions * half];
        float[] s = new float[newPositions * half];
        for (int p = 0; p < newPositions; p++) {
            for (int i = 0; i < half; i++) {
                double angle = p * invFreq[i];
                c[p * half + i] = (float) Math.cos(angle);
                s[p * half + i] = (float) Math.sin(angle);
            }
        }
        cos = c;
        sin = s;
        positions = newPositions;
    }

    /** Rotates one head vector v[off .. off+headDim) for position pos. */
    public void apply(float[] v, int off, int pos) {
        int base = pos * half;
        if (layout == RopeLayout.INTERLEAVED) {
            for (int i = 0; i < half; i++) {
                float c = cos[base + i];
                float s = sin[base + i];
                float x0 = v[off + 2 * i];
                float x1 = v[off + 2 * i + 1];
                v[off + 2 * i] = x0 * c - x1 * s;
                v[off + 2 * i + 1] = x1 * c + x0 * s;
            }
            return;
        }
        for (int i = 0; i < half; i++) {
            float c = cos[base + i];
            float s = sin[base + i];
            float x0 = v[off + i];
            float x1 = v[off + i + half];
            v[off + i] = x0 * c - x1 * s;
            v[off + i + half] = x1 * c + x0 * s;
        }
    }
}
