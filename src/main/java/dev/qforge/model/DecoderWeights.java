package dev.qforge.model;

import dev.qforge.QforgeException;
import dev.qforge.tensor.Tensor;
import dev.qforge.tensor.TensorStore;
import dev.qforge.tensor.WeightMatrix;

import java.util.Arrays;

/**
 * All weights of a decoder, found by their Hugging Face names and checked against the configuration,
 * so that a wrong or truncated checkpoint fails at load time with the tensor's name, not mid-forward.
 */
public record DecoderWeights(WeightMatrix embedding, LayerWeights[] layers, float[] finalNorm, WeightMatrix lmHead,
                             RopeLayout ropeLayout) {

    /** Frees the decode layouts the runtime packed for single-token products (see WeightMatrix). */
    public void releaseDecodeLayouts() {
        embedding.releaseDecodeLayout();
        lmHead.releaseDecodeLayout();
        for (LayerWeights l : layers) {
            l.matrices().forEach(WeightMatrix::releaseDecodeLayout);
        }
    }

    /** Puts {@code layer} in place of layer i (calibration replaces each layer by its quantized self in turn). */
    public void replaceLayer(int i, LayerWeights layer) {
        layers[i] = layer;
    }

    /** Weights with Hugging Face names and layout. */
    public static DecoderWeights load(ModelConfig c, TensorStore store) {
        return load(c, store, RopeLayout.ROTATE_HALF);
    }

    /** Weights with Hugging Face names whose q/k rows are laid out for the given rotary pairing. */
    public static DecoderWeights load(ModelConfig c, TensorStore store, RopeLayout ropeLayout) {
        TensorLayout.requireNoExtraLayers(c, store);
        Loader l = new Loader(store);
        int d = c.hiddenSize();
        WeightMatrix embedding = l.matrix(TensorLayout.EMBEDDING, c.vocabSize(), d);
        LayerWeights[] layers = new LayerWeights[c.numLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = TensorLayout.layer(i, "");
            layers[i] = new LayerWeights(
                    l.vector(p + "input_layernorm.weight", d),
                    l.matrix(p + "self_attn.q_proj.weight", c.qDim(), d),
                    l.matrix(p + "self_attn.k_proj.weight", c.kvDim(), d),
                    l.matrix(p + "self_attn.v_proj.weight", c.kvDim(), d),
                    l.matrix(p + "self_attn.o_proj.weight", d, c.qDim()),
                    c.qkvBias() ? l.vector(p + "self_attn.q_proj.bias", c.qDim()) : null,
                    c.qkvBias() ? l.vector(p + "self_attn.k_proj.bias", c.kvDim()) : null,
                    c.qkvBias() ? l.vector(p + "self_attn.v_proj.bias", c.kvDim()) : null,
                    c.qkNorm() ? l.vector(p + "self_attn.q_norm.weight", c.headDim()) : null,
                    c.qkNorm() ? l.vector(p + "self_attn.k_norm.weight", c.headDim()) : null,
                    l.vector(p + "post_attention_layernorm.weight", d),
                    l.matrix(p + "mlp.gate_proj.weight", c.intermediateSize(), d),
                    l.matrix(p + "mlp.up_proj.weight", c.intermediateSize(), d),
                    l.matrix(p + "mlp.down_proj.weight", d, c.intermediateSize()));
        }
        float[] finalNorm = l.vector(TensorLayout.FINAL_NORM, d);
        WeightMatrix lmHead = c.tieWordEmbeddings() && !store.contains(TensorLayout.LM_HEAD)
                ? embedding
                : l.matrix(TensorLayout.LM_HEAD, c.vocabSize(), d);
        return new DecoderWeights(embedding, layers, finalNorm, lmHead, ropeLayout);
    }

    private record Loader(TensorStore store) {
        WeightMatrix matrix(String name, long rows, long cols) {
            requirePresent(name);
            WeightMatrix m = store.matrix(name);
            if (m.rows() != rows || m.cols() != cols) {
                throw new QforgeException(store.source() + ": tensor '" + name + "' has shape [" + m.rows() + ", "
                        + m.cols() + "], the config implies [" + rows + ", " + cols + "]");
            }
            return m;
        }

        float[] vector(String name, long length) {
            Tensor t = require(name);
            if (t.rank() != 1 || t.dim(0) != length) {
                throw mismatch(t, "[" + length + "]");
            }
            return t.toFloatArray();
        }

        private Tensor require(String name) {
            requirePresent(name);
            return store.tensor(name);
        }

        private void requirePresent(String name) {
            if (!store.contains(name)) {
                throw new QforgeException(store.source() + ": missing tensor '" + name + "'");
            }
        }

        private QforgeException mismatch(Tensor t, String expected) {
            return new QforgeException(store.source() + ": tensor '" + t.name() + "' has shape "
                    + Arrays.toString(t.shape()) + ", the config implies " + expected);
        }
    }
}
