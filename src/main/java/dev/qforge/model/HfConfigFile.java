package dev.qforge.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qforge.QforgeException;
import dev.qforge.format.JsonFiles;

import java.nio.file.Path;

/** Reads a Hugging Face config.json into a {@link ModelConfig}, checking what the decoder relies on. */
public final class HfConfigFile {
    private final Path file;
    private final JsonNode json;

    private HfConfigFile(Path file, JsonNode json) {
        this.file = file;
        this.json = json;
    }

    public static ModelConfig read(Path configJson) {
        return new HfConfigFile(configJson, JsonFiles.readObject(configJson)).parse();
    }

    private ModelConfig parse() {
        String modelType = text("model_type", null);
        if (modelType == null) {
            throw fail("no model_type; supported: " + ModelFamily.supportedModelTypes());
        }
        ModelFamily family = ModelFamily.fromModelType(modelType);
        if (family == null) {
            throw fail("model_type '" + modelType + "' is not supported; supported: " + ModelFamily.supportedModelTypes());
        }
        String act = text("hidden_act", text("hidden_activation", "silu"));
        if (!act.equals("silu") && !act.equals("swish")) {
            throw fail("hidden_act '" + act + "' is not supported (the decoder uses SwiGLU with silu)");
        }
        if (json.path("mlp_bias").asBoolean(false)) {
            throw fail("mlp_bias = true is not supported");
        }
        int hidden = positiveInt("hidden_size");
        int heads = positiveInt("num_attention_heads");
        int kvHeads = json.has("num_key_value_heads") && !json.get("num_key_value_heads").isNull()
                ? positiveInt("num_key_value_heads") : heads;
        if (heads % kvHeads != 0) {
            throw fail("num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        int headDim;
        if (json.hasNonNull("head_dim")) {
            headDim = positiveInt("head_dim");
        } else {
            if (hidden % heads != 0) {
                throw fail("hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads + " and no head_dim is given");
            }
            headDim = hidden / heads;
        }
        if (headDim % 2 != 0) {
            throw fail("head_dim " + headDim + " is odd; rotary embeddings need pairs");
        }
        boolean qkvBias = family.alwaysHasQkvBias() || json.path("attention_bias").asBoolean(false);
        int slidingWindow = json.path("use_sliding_window").asBoolean(family == ModelFamily.MISTRAL)
                && json.hasNonNull("sliding_window") ? json.get("sliding_window").asInt() : 0;
        return new ModelConfig(
                family,
                hidden,
                positiveInt("intermediate_size"),
                positiveInt("num_hidden_layers"),
                heads,
                kvHeads,
                headDim,
                positiveInt("vocab_size"),
                json.hasNonNull("max_position_embeddings") ? positiveInt("max_position_embeddings") : 2048,
                (float) number("rms_norm_eps", 1e-6),
                number("rope_theta", 10000.0),
                ropeScaling(),
                json.path("tie_word_embeddings").asBoolean(false),
                qkvBias,
                family.hasQkNorm(),
                slidingWindow,
                optionalId("bos_token_id"),
                optionalId("eos_token_id"));
    }

    private RopeScaling ropeScaling() {
        JsonNode rs = json.get("rope_scaling");
        if (rs == null || rs.isNull()) {
            return RopeScaling.NONE;
        }
        if (!rs.isObject()) {
            throw fail("rope_scaling must be an object (e.g. {\"rope_type\": \"linear\", \"factor\": 2.0}) or null, not " + rs);
        }
        String type = rs.hasNonNull("rope_type") ? rs.get("rope_type").asText() : rs.path("type").asText("");
        return switch (type) {
            case "default", "" -> RopeScaling.NONE;
            case "linear" -> RopeScaling.linear(ropeNumber(rs, "factor"));
            case "llama3" -> RopeScaling.llama3(
                    rs.path("factor").asDouble(8),
                    rs.path("low_freq_factor").asDouble(1),
                    rs.path("high_freq_factor").asDouble(4),
                    rs.path("original_max_position_embeddings").asInt(8192));
            default -> throw fail("rope_scaling type '" + type + "' is not supported (supported: linear, llama3)");
        };
    }

    /** A required number of rope_scaling (transformers refuses a config without it, so does qforge). */
    private double ropeNumber(JsonNode rs, String key) {
        JsonNode n = rs.get(key);
        if (n == null || !n.isNumber()) {
            throw fail("rope_scaling." + key + " must be a number, not " + (n == null ? "missing" : n.toString()));
        }
        return n.asDouble();
    }

    private Integer optionalId(String key) {
        JsonNode n = json.get(key);
        if (n == null || n.isNull()) {
            return null;
        }
        if (n.isArray()) {
            return n.isEmpty() ? null : n.get(0).asInt();
        }
        return n.asInt();
    }

    private String text(String key, String fallback) {
        JsonNode n = json.get(key);
        return n == null || n.isNull() ? fallback : n.asText();
    }

    private double number(String key, double fallback) {
        JsonNode n = json.get(key);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isNumber()) {
            throw fail(key + " is not a number");
        }
        return n.asDouble();
    }

    private int positiveInt(String key) {
        JsonNode n = json.get(key);
        if (n == null || n.isNull()) {
            throw fail("missing " + key);
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.asInt() <= 0) {
            throw fail(key + " must be a positive integer, not " + n);
        }
        return n.asInt();
    }

    private QforgeException fail(String problem) {
        return new QforgeException(file + ": " + problem);
    }
}
