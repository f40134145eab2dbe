package dev.qforge.quant.transform;

import dev.qforge.model.ModelConfig;

/**
 * The one weight transform llama.cpp's converter applies: for the llama architecture, q and k rows are
 * reordered so that each head's two RoPE halves (Hugging Face's rotate-half layout) become interleaved
 * pairs (the layout llama.cpp rotates). It changes no function: the runtime reading the file rotates the
 * matching pairs. Row order does not matter to any method (every one quantizes rows independently), so
 * methods run on the checkpoint's rows and the writer moves whole quantized rows.
 */
public final class LlamaQkPermutation {
    private LlamaQkPermutation() {
    }

    /**
     * The source row of each destination row of the GGUF tensor {@code ggufName} (for a 1-D bias: element),
     * or null where it is not permuted.
     */
    public static int[] of(String arch, ModelConfig config, String ggufName) {
        if (!arch.equals("llama")) {
            return null;
        }
        int heads;
        int rows;
        if (ggufName.endsWith("attn_q.weight") || ggufName.endsWith("attn_q.bias")) {
            heads = config.numHeads();
            rows = config.qDim();
        } else if (ggufName.endsWith("attn_k.weight") || ggufName.endsWith("attn_k.bias")) {
            heads = config.numKvHeads();
            rows = config.kvDim();
        } else {
            return null;
        }
        return headPermutation(rows, heads);
    }

    /** The source row of each row after llama.cpp's {@code permute(w, n_head)}: within a head of 2h rows, row 2i+j takes row j·h+i. */
    public static int[] headPermutation(int rows, int heads) {
        int perHead = rows / heads;
        int half = perHead / 2;
        int[] src = new int[rows];
        for (int r = 0; r < rows; r++) {
            int head = r / perHead;
            int within = r % perHead;
            src[r] = head * perHead + (within % 2) * half + within / 2;
        }
        return src;
    }
}
