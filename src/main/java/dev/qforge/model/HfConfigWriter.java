package dev.qforge.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.format.AtomicFile;
import dev.qforge.format.JsonFiles;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Writes a {@link ModelConfig} as the config.json transformers would write for that family. */
public final class HfConfigWriter {
    private HfConfigWriter() {
    }

    public static ObjectNode toJson(ModelConfig c, String torchDtype) {
        ObjectNode j = JsonFiles.mapper().createObjectNode();
        j.putArray("architectures").add(c.family().architecture());
        j.put("model_type", c.family().modelType());
        j.put("hidden_size", c.hiddenSize());
        j.put("intermediate_size", c.intermediateSize());
        j.put("num_hidden_layers", c.numLayers());
        j.put("num_attention_heads", c.numHeads());
        j.put("num_key_value_heads", c.numKvHeads());
        j.put("head_dim", c.headDim());
        j.put("vocab_size", c.vocabSize());
        j.put("max_position_embeddings", c.maxPositions());
        j.put("rms_norm_eps", c.rmsNormEps());
        j.put("rope_theta", c.ropeTheta());
        if (c.ropeScaling().type() == RopeScaling.Type.NONE) {
            j.putNull("rope_scaling");
        } else {
            ObjectNode rs = j.putObject("rope_scaling");
            RopeScaling s = c.ropeScaling();
            rs.put("rope_type", s.type().name().toLowerCase(java.util.Locale.ROOT));
            rs.put("factor", s.factor());
            if (s.type() == RopeScaling.Type.LLAMA3) {
                rs.put("low_freq_factor", s.lowFreqFactor());
                rs.put("high_freq_factor", s.highFreqFactor());
                rs.put("original_max_position_embeddings", s.originalMaxPositions());
            }
        }
        j.put("hidden_act", "silu");
        j.put("tie_word_embeddings", c.tieWordEmbeddings());
        if (c.family() == ModelFamily.LLAMA || c.family() == ModelFamily.QWEN3) {
            j.put("attention_bias", c.qkvBias());
        }
        if (c.slidingWindow() > 0) {
            j.put("sliding_window", c.slidingWindow());
            if (c.family() != ModelFamily.MISTRAL) {
                j.put("use_sliding_window", true);
            }
        } else if (c.family() == ModelFamily.QWEN2 || c.family() == ModelFamily.QWEN3) {
            j.put("use_sliding_window", false);
        }
        if (c.bosTokenId() != null) {
            j.put("bos_token_id", c.bosTokenId());
        }
        if (c.eosTokenId() != null) {
            j.put("eos_token_id", c.eosTokenId());
        }
        j.put("torch_dtype", torchDtype);
        return j;
    }

    public static void write(ModelConfig c, String torchDtype, Path file) {
        byte[] bytes = (toJson(c, torchDtype).toPrettyString() + "\n").getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(file, out -> out.write(bytes));
    }
}
