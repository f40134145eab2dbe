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

    /** This layer with each projection matrix replaced by {@code replace.apply(matrix)}; norms and biases kept. */
    public LayerWeights withMatrices(java.util.function.UnaryOperator<WeightMatrix> replace) {
        return new LayerWeights(attentionNorm, replace.apply(wq), replace.apply(wk), replace.apply(wv), replace.apply(wo),
                bq, bk, bv, qNorm, kNorm, mlpNorm, replace.apply(wGate), replace.apply(wUp), replace.apply(wDown));
    }

    /** The seven projection matrices, in the order of the forward pass. */
    public java.util.List<WeightMatrix> matrices() {
        return java.util.List.of(wq, wk, wv, wo, wGate, wUp, wDown);
    }
}
