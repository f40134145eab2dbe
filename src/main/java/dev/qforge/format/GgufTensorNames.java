package dev.qforge.format;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tensor names in Hugging Face checkpoints and in llama.cpp's GGUF files, both ways, for the decoder's
 * tensors (llama.cpp's tensor-name table for the llama/qwen2/qwen3 architectures).
 */
public final class GgufTensorNames {
    private static final String[][] GLOBAL = {
            {"model.embed_tokens.weight", "token_embd.weight"},
            {"model.norm.weight", "output_norm.weight"},
            {"lm_head.weight", "output.weight"},
    };
    private static final String[][] PER_LAYER = {
            {"input_layernorm.weight", "attn_norm.weight"},
            {"self_attn.q_proj.weight", "attn_q.weight"},
            {"self_attn.k_proj.weight", "attn_k.weight"},
            {"self_attn.v_proj.weight", "attn_v.weight"},
            {"self_attn.q_proj.bias", "attn_q.bias"},
            {"self_attn.k_proj.bias", "attn_k.bias"},
            {"self_attn.v_proj.bias", "attn_v.bias"},
            {"self_attn.q_norm.weight", "attn_q_norm.weight"},
            {"self_attn.k_norm.weight", "attn_k_norm.weight"},
            {"self_attn.o_proj.weight", "attn_output.weight"},
            {"post_attention_layernorm.weight", "ffn_norm.weight"},
            {"mlp.gate_proj.weight", "ffn_gate.weight"},
            {"mlp.up_proj.weight", "ffn_up.weight"},
            {"mlp.down_proj.weight", "ffn_down.weight"},
    };
    private static final Pattern HF_LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Pattern GGUF_LAYER = Pattern.compile("blk\\.(\\d+)\\.(.+)");

    private GgufTensorNames() {
    }

    /** The GGUF name of a Hugging Face tensor name, or null when the decoder has no such tensor. */
    public static String toGguf(String hf) {
        return translate(hf, HF_LAYER, "blk.", 0, 1);
    }

    /** The Hugging Face name of a GGUF tensor name, or null for a tensor the decoder does not use. */
    public static String toHf(String gguf) {
        return translate(gguf, GGUF_LAYER, "model.layers.", 1, 0);
    }

    private static String translate(String name, Pattern layer, String prefix, int from, int to) {
        for (String[] pair : GLOBAL) {
            if (pair[from].equals(name)) {
                return pair[to];
            }
        }
        Matcher m = layer.matcher(name);
        if (m.matches()) {
            for (String[] pair : PER_LAYER) {
                if (pair[from].equals(m.group(2))) {
                    return prefix + m.group(1) + "." + pair[to];
                }
            }
        }
        return null;
    }
}
