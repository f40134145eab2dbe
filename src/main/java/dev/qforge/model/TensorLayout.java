package dev.qforge.model;

import java.util.ArrayList;
import java.util.List;

/**
 * Every tensor a decoder of a given configuration has, with its Hugging Face name and shape. The loader,
 * the synthetic-model writer and `inspect` all take names from here, so they cannot drift apart.
 */
public final class TensorLayout {
    /** What a tensor is, which decides how it is initialised, quantized and reported. */
    public enum Role { EMBEDDING, LINEAR, NORM, BIAS, LM_HEAD }

    public record Spec(String name, long[] shape, Role role) {
    }

    public static final String EMBEDDING = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";

    private TensorLayout() {
    }

    public static String layer(int index, String suffix) {
        return "model.layers." + index + "." + suffix;
    }

    /**
     * Throws if the checkpoint holds tensors of a layer the configuration does not have (config.json's
     * num_hidden_layers smaller than the checkpoint's): running it would silently drop those layers.
     */
    public static void requireNoExtraLayers(ModelConfig c, dev.qforge.tensor.TensorStore store) {
        java.util.regex.Pattern p = java.util.regex.Pattern.compile("^model\\.layers\\.(\\d+)\\.");
        int highest = -1;
        for (String name : store.names()) {
            java.util.regex.Matcher m = p.matcher(name);
            if (m.find()) {
                highest = Math.max(highest, Integer.parseInt(m.group(1)));
            }
        }
        if (highest >= c.numLayers()) {
            throw new dev.qforge.QforgeException(store.source() + ": holds tensors of layer " + highest + " but config.json's "
                    + "num_hidden_layers is " + c.numLayers() + "; the config does not describe this checkpoint");
        }
    }

    public static List<Spec> of(ModelConfig c) {
        List<Spec> specs = new ArrayList<>();
        long d = c.hiddenSize();
        specs.add(new Spec(EMBEDDING, new long[]{c.vocabSize(), d}, Role.EMBEDDING));
        for (int i = 0; i < c.numLayers(); i++) {
            specs.add(new Spec(layer(i, "input_layernorm.weight"), new long[]{d}, Role.NORM));
            specs.add(new Spec(layer(i, "self_attn.q_proj.weight"), new long[]{c.qDim(), d}, Role.LINEAR));
            specs.add(new Spec(layer(i, "self_attn.k_proj.weight"), new long[]{c.kvDim(), d}, Role.LINEAR));
            specs.add(new Spec(layer(i, "self_attn.v_proj.weight"), new long[]{c.kvDim(), d}, Role.LINEAR));
            if (c.qkvBias()) {
                specs.add(new Spec(layer(i, "self_attn.q_proj.bias"), new long[]{c.qDim()}, Role.BIAS));
                specs.add(new Spec(layer(i, "self_attn.k_proj.bias"), new long[]{c.kvDim()}, Role.BIAS));
                specs.add(new Spec(layer(i, "self_attn.v_proj.bias"), new long[]{c.kvDim()}, Role.BIAS));
            }
            if (c.qkNorm()) {
                specs.add(new Spec(layer(i, "self_attn.q_norm.weight"), new long[]{c.headDim()}, Role.NORM));
                specs.add(new Spec(layer(i, "self_attn.k_norm.weight"), new long[]{c.headDim()}, Role.NORM));
            }
            specs.add(new Spec(layer(i, "self_attn.o_proj.weight"), new long[]{d, c.qDim()}, Role.LINEAR));
            specs.add(new Spec(layer(i, "post_attention_layernorm.weight"), new long[]{d}, Role.NORM));
            specs.add(new Spec(layer(i, "mlp.gate_proj.weight"), new long[]{c.intermediateSize(), d}, Role.LINEAR));
            specs.add(new Spec(layer(i, "mlp.up_proj.weight"), new long[]{c.intermediateSize(), d}, Role.LINEAR));
            specs.add(new Spec(layer(i, "mlp.down_proj.weight"), new long[]{d, c.intermediateSize()}, Role.LINEAR));
        }
        specs.add(new Spec(FINAL_NORM, new long[]{d}, Role.NORM));
        if (!c.tieWordEmbeddings()) {
            specs.add(new Spec(LM_HEAD, new long[]{c.vocabSize(), d}, Role.LM_HEAD));
        }
        return specs;
    }
}
