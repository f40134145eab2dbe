package dev.qforge.model;

/**
 * Which dimensions of a head rotate together, which depends on how the q/k weights were laid out:
 * Hugging Face checkpoints pair dimension i with i + headDim/2 ("rotate_half", llama.cpp's NEOX mode);
 * Meta's checkpoints and llama.cpp's GGUF files of the llama architecture pair 2i with 2i+1 (llama.cpp's
 * NORM mode; its converter permutes q/k rows into that order). Qwen2/Qwen3 GGUF files keep the NEOX pairing.
 */
public enum RopeLayout {
    ROTATE_HALF,
    INTERLEAVED
}
