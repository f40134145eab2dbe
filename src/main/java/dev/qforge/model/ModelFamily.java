package dev.qforge.model;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The transformer families qforge runs. They are configurations of one decoder, differing only in the
 * few features listed here; nothing else in the runtime switches on the family.
 */
public enum ModelFamily {
    /** Llama 1/2/3 (and TinyLlama, SmolLM, ...): optional attention bias via config. */
    LLAMA("llama", "LlamaForCausalLM", false, false),
    /** Mistral: Llama's block; a sliding window only matters beyond the window length. */
    MISTRAL("mistral", "MistralForCausalLM", false, false),
    /** Qwen2 / Qwen2.5: biases on q, k and v projections, always. */
    QWEN2("qwen2", "Qwen2ForCausalLM", true, false),
    /** Qwen3: no biases, RMSNorm over each query and key head before RoPE. */
    QWEN3("qwen3", "Qwen3ForCausalLM", false, true);

    private final String modelType;
    private final String architecture;
    private final boolean qkvBias;
    private final boolean qkNorm;

    ModelFamily(String modelType, String architecture, boolean qkvBias, boolean qkNorm) {
        this.modelType = modelType;
        this.architecture = architecture;
        this.qkvBias = qkvBias;
        this.qkNorm = qkNorm;
    }

    /** The {@code model_type} of config.json. */
    public String modelType() {
        return modelType;
    }

    /** The transformers class name, for config.json's {@code architectures}. */
    public String architecture() {
        return architecture;
    }

    /** Whether q/k/v projections always carry biases in this family. */
    public boolean alwaysHasQkvBias() {
        return qkvBias;
    }

    public boolean hasQkNorm() {
        return qkNorm;
    }

    /** The family for a config.json model_type, or null. */
    public static ModelFamily fromModelType(String modelType) {
        for (ModelFamily f : values()) {
            if (f.modelType.equals(modelType.toLowerCase(Locale.ROOT))) {
                return f;
            }
        }
        return null;
    }

    public static String supportedModelTypes() {
        return Arrays.stream(values()).map(ModelFamily::modelType).collect(Collectors.joining(", "));
    }
}
