package dev.qforge.model;

/**
 * Sees the input of every linear layer during a forward pass: what importance matrices (llama.cpp's
 * imatrix), GPTQ's Hessians and AWQ's activation scales are computed from. Called on the forward pass's
 * thread, before the matrix multiplication, with the batch's input rows.
 */
@FunctionalInterface
public interface ActivationObserver {
    /**
     * @param weight the name of the weight matrix about to be applied (Hugging Face naming)
     * @param input  {@code rows} rows of {@code cols} floats, row after row; valid only during the call
     */
    void linearInput(String weight, float[] input, int rows, int cols);
}
