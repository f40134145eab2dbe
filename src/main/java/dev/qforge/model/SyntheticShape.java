package dev.qforge.model;

import dev.qforge.QforgeException;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Named model shapes for synthetic models: tiny ones of every family for tests, and real shapes for
 * speed and memory benchmarks, so that those never need a download.
 */
public enum SyntheticShape {
    TINY_LLAMA("tiny-llama", ModelFamily.LLAMA, 64, 160, 2, 4, 2, 16, 512, false, 0),
    TINY_LLAMA_TIED("tiny-llama-tied", ModelFamily.LLAMA, 64, 160, 2, 4, 4, 16, 512, true, 0),
    TINY_MISTRAL("tiny-mistral", ModelFamily.MISTRAL, 64, 160, 2, 4, 1, 16, 512, false, 24),
    TINY_QWEN2("tiny-qwen2", ModelFamily.QWEN2, 64, 160, 2, 4, 2, 16, 512, true, 0),
    TINY_QWEN3("tiny-qwen3", ModelFamily.QWEN3, 64, 160, 2, 4, 2, 32, 512, true, 0),
    /** Llama-3.2-1B-like: hidden 2048, 16 layers, FFN 8192, GQA 32/8, vocab 32000, untied head. */
    LLAMA_1B("llama-1b", ModelFamily.LLAMA, 2048, 8192, 16, 32, 8, 64, 32000, false, 0),
    /** One decoder layer of Llama-2-7B: hidden 4096, FFN 11008, 32 heads (no GQA), vocab 32000. */
    LLAMA_7B_LAYER("llama-7b-layer", ModelFamily.LLAMA, 4096, 11008, 1, 32, 32, 128, 32000, false, 0);

    private final String id;
    private final ModelConfig config;

    SyntheticShape(String id, ModelFamily family, int hidden, int ffn, int layers, int heads, int kvHeads,
                   int headDim, int vocab, boolean tied, int slidingWindow) {
        this.id = id;
        this.config = new ModelConfig(family, hidden, ffn, layers, heads, kvHeads, headDim, vocab,
                vocab >= 32000 ? 4096 : 1024, 1e-5f, family == ModelFamily.LLAMA ? 10000.0 : 1000000.0,
                RopeScaling.NONE, tied, family.alwaysHasQkvBias(), family.hasQkNorm(), slidingWindow,
                vocab - 2, vocab - 1);
    }

    public String id() {
        return id;
    }

    public ModelConfig config() {
        return config;
    }

    public static SyntheticShape byId(String id) {
        for (SyntheticShape s : values()) {
            if (s.id.equals(id.toLowerCase(Locale.ROOT))) {
                return s;
            }
        }
        throw new QforgeException("unknown shape '" + id + "'; known shapes: " + ids());
    }

    public static String ids() {
        return Arrays.stream(values()).map(SyntheticShape::id).collect(Collectors.joining(", "));
    }
}
