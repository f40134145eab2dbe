package dev.qforge.model;

import dev.qforge.tensor.WeightMatrix;

/**
 * The weights of one decoder block. Projection matrices stay as views of the mapped file, in their
 * stored format (any entry of the block-format table, mixed freely); the small vectors (norms, biases) are copied to float arrays once. Biases and q/k norms
 * are null where the family has none.
 */
public record LayerWeights(
        float[] attentionNorm,
        WeightMatrix wq, WeightMatrix wk, WeightMatrix wv, WeightMatrix wo,
        float[] bq, float[] bk, float[] bv,
        float[] qNorm, float[] kNorm,
        float[] mlpNorm,
        WeightMatrix wGate, WeightMatrix wUp, WeightMatrix wDown) {

    /** The seven projection matrices, in the order of the forward pass. */
    public java.util.List<WeightMatrix> matrices() {
        return java.util.List.of(wq, wk, wv, wo, wGate, wUp, wDown);
    }
}
