package dev.qforge.model;

import dev.qforge.kernel.GroupedQueryKernels;

/**
 * What a running sequence owns: the KV cache of every layer and the activation buffers of a forward
 * pass, allocated once per capacity and reused, so decoding allocates nothing per token.
 */
public final class InferenceState {
    final int capacity;
    /** Key blocks per KV head: the capacity in blocks of {@link GroupedQueryKernels#KEY_BLOCK} positions. */
    final int keyBlocks;
    /**
     * Per layer, each KV head's keys in blocks of B = {@link GroupedQueryKernels#KEY_BLOCK} positions: index
     * ((kvHead·keyBlocks + position / B)·headDim + d)·B + position % B.
     */
    final float[][] keys;
    /** Per layer, each KV head's values by position: index (kvHead·capacity + position)·headDim + d. */
    final float[][] values;
    int length;

    // Activation buffers for a batch of up to `batch` tokens; grown when a larger batch comes.
    int batch;
    float[] x;
    float[] xb;
    float[] q;
    float[] k;
    float[] v;
    float[] attention;
    float[] projected;
    float[] gate;
    float[] up;
    float[] normed;

    /**
     * Where KV head kv's key of position pos, dimension 0, sits in a layer's keys (dimension d at + d·B): the index
     * {@link #keys} documents, so that the cache's writer and its readers share one formula.
     */
    int keyIndex(int kv, int pos, int headDim) {
        int b = GroupedQueryKernels.KEY_BLOCK;
        return (kv * keyBlocks + pos / b) * headDim * b + pos % b;
    }

    InferenceState(ModelConfig c, int capacity) {
        this.capacity = capacity;
        this.keyBlocks = (capacity + GroupedQueryKernels.KEY_BLOCK - 1) / GroupedQueryKernels.KEY_BLOCK;
        long keyFloats = (long) keyBlocks * GroupedQueryKernels.KEY_BLOCK * c.kvDim();
        if (keyFloats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("context of " + capacity + " tokens is too long for one KV array");
        }
        this.keys = new float[c.numLayers()][(int) keyFloats];
        this.values = new float[c.numLayers()][capacity * c.kvDim()];
    }

    void ensureBatch(ModelConfig c, int n) {
        if (n <= batch) {
            return;
        }
        batch = n;
        x = new float[n * c.hiddenSize()];
        xb = new float[n * c.hiddenSize()];
        q = new float[n * c.qDim()];
        k = new float[n * c.kvDim()];
        v = new float[n * c.kvDim()];
        attention = new float[n * c.qDim()];
        projected = new float[n * c.hiddenSize()];
        gate = new float[n * c.intermediateSize()];
        up = new float[n * c.intermediateSize()];
        normed = new float[n * c.hiddenSize()];
    }

    /** Tokens in the cache so far. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Sets the residual stream to {@code count} rows of the model's width from src[srcOff ..] (for layer-by-layer runs). */
    public void setResidual(ModelConfig c, float[] src, int srcOff, int count) {
        ensureBatch(c, count);
        System.arraycopy(src, srcOff, x, 0, count * c.hiddenSize());
    }

    /** Copies the first {@code count} rows of the residual stream to dst[dstOff ..]. */
    public void copyResidual(ModelConfig c, float[] dst, int dstOff, int count) {
        System.arraycopy(x, 0, dst, dstOff, count * c.hiddenSize());
    }

    /** Forgets the sequence; the buffers are kept for the next one. */
    public void reset() {
        length = 0;
    }
}
