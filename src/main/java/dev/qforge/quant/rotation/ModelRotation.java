package dev.qforge.quant.rotation;

import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.kernel.DenseMatrices;
import dev.qforge.model.HfConfigFile;
import dev.qforge.model.ModelConfig;
import dev.qforge.model.TensorLayout;
import dev.qforge.quant.transform.TransformedCheckpoint;

import java.nio.file.Path;

/**
 * The rotations of QuaRot and SpinQuant that fold into the weights, so that the rotated model is still a
 * standard Llama that llama.cpp runs: first each RMSNorm's gain is folded into the linears that read its
 * output (the norms become plain x/rms(x)); then the residual stream is rotated by an orthogonal Q (every
 * linear that reads it becomes W·Q, the embedding E·Q, every linear that writes to it Qᵀ·W — the norm of
 * a rotated vector is its norm, so x/rms(x) commutes with Q); and each head's values by an orthogonal R
 * (v's rows of a head Rᵀ·W_v, its bias Rᵀ·b, o's columns of each query head reading it W_o·R). The float
 * model computes the same function; its weights have spread-out, Gaussian-like rows, which block formats
 * quantize with less error. A tied LM head is untied (it takes the final norm's gain, the embedding not).
 */
public final class ModelRotation {
    private ModelRotation() {
    }

    /**
     * Writes the rotated model of {@code modelDir} (F32, one safetensors file, the other files copied) into
     * the new folder {@code target}.
     */
    public static void write(Path modelDir, Path target, long seed) {
        ModelConfig c = HfConfigFile.read(modelDir.resolve("config.json"));
        float[] q = Hadamard.randomOrthogonal(c.hiddenSize(), seed);
        float[] r = Hadamard.randomOrthogonal(c.headDim(), seed + 1);
        // a tied head is untied: it takes the final norm's gain and the embedding does not
        TransformedCheckpoint.write(modelDir, target, true, "rotated", (ck, name) -> rotated(ck, c, name, q, r));
    }

    /** The rotated values of one tensor of the checkpoint (Hugging Face names and layout). */
    static float[] rotated(SafetensorsCheckpoint ck, ModelConfig c, String name, float[] q, float[] r) {
        int d = c.hiddenSize();
        String layerNorm = null;
        if (name.equals(TensorLayout.LM_HEAD)) {
            String src = ck.contains(TensorLayout.LM_HEAD) ? TensorLayout.LM_HEAD : TensorLayout.EMBEDDING;
            float[] w = ck.tensor(src).toFloatArray();
            scaleColumns(w, c.vocabSize(), d, ck.tensor(TensorLayout.FINAL_NORM).toFloatArray());
            return times(w, c.vocabSize(), q, d);
        }
        if (name.equals(TensorLayout.EMBEDDING)) {
            return times(ck.tensor(name).toFloatArray(), c.vocabSize(), q, d);
        }
        if (name.equals(TensorLayout.FINAL_NORM) || name.endsWith("input_layernorm.weight")
                || name.endsWith("post_attention_layernorm.weight")) {
            float[] ones = new float[d];
            java.util.Arrays.fill(ones, 1f);
            return ones;
        }
        String prefix = name.substring(0, name.lastIndexOf("self_attn.") >= 0 ? name.lastIndexOf("self_attn.")
                : Math.max(0, name.lastIndexOf("mlp.")));
        float[] w = ck.tensor(name).toFloatArray();
        if (name.endsWith("q_proj.weight") || name.endsWith("k_proj.weight") || name.endsWith("v_proj.weight")) {
            layerNorm = prefix + "input_layernorm.weight";
        } else if (name.endsWith("gate_proj.weight") || name.endsWith("up_proj.weight")) {
            layerNorm = prefix + "post_attention_layernorm.weight";
        }
        if (layerNorm != null) {
            int rows = w.length / d;
            scaleColumns(w, rows, d, ck.tensor(layerNorm).toFloatArray());
            w = times(w, rows, q, d);
            if (name.endsWith("v_proj.weight")) {
                w = rotateHeadRows(w, c.numKvHeads(), c.headDim(), d, r);
            }
            return w;
        }
        if (name.endsWith("v_proj.bias")) {
            return rotateHeadRows(w, c.numKvHeads(), c.headDim(), 1, r);
        }
        if (name.endsWith("o_proj.weight")) {
            // W_o [d × qDim]: each query head's columns times R, then Qᵀ from the left
            int qDim = c.qDim();
            int hd = c.headDim();
            float[] wr = new float[w.length];
            for (int row = 0; row < d; row++) {
                for (int h = 0; h < c.numHeads(); h++) {
                    int base = row * qDim + h * hd;
                    for (int j = 0; j < hd; j++) {
                        float s = 0;
                        for (int k = 0; k < hd; k++) {
                            s += w[base + k] * r[k * hd + j];
                        }
                        wr[base + j] = s;
                    }
                }
            }
            return transposedTimes(q, d, wr, qDim);
        }
        if (name.endsWith("down_proj.weight")) {
            return transposedTimes(q, d, w, c.intermediateSize());
        }
        // biases of q and k, q/k norms: untouched by rotations of the residual and of v
        return w;
    }

    private static void scaleColumns(float[] w, int rows, int cols, float[] g) {
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                w[i * cols + j] *= g[j];
            }
        }
    }

    /** W·Q for W [rows × d] and Q [d × d]: W·(Qᵀ)ᵀ. */
    private static float[] times(float[] w, int rows, float[] q, int d) {
        return DenseMatrices.timesTransposed(w, rows, DenseMatrices.transpose(q, d, d), d);
    }

    /** Qᵀ·W for Q [d × d] and W [d × k]: (Wᵀ·Q)ᵀ. */
    private static float[] transposedTimes(float[] q, int d, float[] w, int k) {
        float[] wt = DenseMatrices.transpose(w, d, k);
        float[] p = times(wt, k, q, d);
        return DenseMatrices.transpose(p, k, d);
    }

    /** Rᵀ applied to each head's block of rows: rows h·hd + i become Σ_k R[k][i]·row(h·hd + k). */
    private static float[] rotateHeadRows(float[] w, int heads, int hd, int cols, float[] r) {
        float[] out = new float[w.length];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < hd; i++) {
                int dst = (h * hd + i) * cols;
                for (int k = 0; k < hd; k++) {
                    float rki = r[k * hd + i];
                    int src = (h * hd + k) * cols;
                    for (int col = 0; col < cols; col++) {
                        out[dst + col] += rki * w[src + col];
                    }
                }
            }
        }
        return out;
    }
}
