package dev.qforge.pipeline;

import dev.qforge.quant.gptq.Hessian;
import dev.qforge.tensor.WeightMatrix;

/**
 * What the calibration loop asks of a quantization method: one weight matrix, given the Hessian of its
 * inputs (collected on the calibration data as it reaches this layer), turned into its quantized self. The
 * loop runs the next layers on what this returns, so a method sees the inputs the quantized model will give.
 */
public interface MatrixQuantizer {
    /**
     * @param layer the decoder layer (−1 for the LM head)
     * @param role  which projection: q, k, v, o, gate, up, down, or output
     */
    WeightMatrix quantize(int layer, String role, WeightMatrix source, Hessian inputs);

    /** The matrix an earlier, interrupted run already quantized (a resumed run replays it), or null. */
    default WeightMatrix restored(int layer, String role, WeightMatrix source) {
        return null;
    }

    /** Whether the loop should quantize the LM head (an untied one) after the layers. */
    default boolean quantizesHead() {
        return true;
    }

    /** Layers [0, layer] are quantized (layer = the layer count once the LM head is too). */
    default void layerDone(int layer) {
    }
}
