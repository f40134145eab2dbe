package dev.qforge.model;

import dev.qforge.tensor.Tensor;

/**
 * The weights of one decoder block. Projection matrices stay as views of the mapped file, in their
 * stored type; the small vectors (norms, biases) are copied to float arrays once. Biases and q/k norms
 * are null where the family has none.
 */
public record LayerWeights(
        float[] attentionNorm,
        Tensor wq, Tensor wk, Tensor wv, Tensor wo,
        float[] bq, float[] bk, float[] bv,
        float[] qNorm, float[] kNorm,
        float[] mlpNorm,
        Tensor wGate, Tensor wUp, Tensor wDown) {
}
