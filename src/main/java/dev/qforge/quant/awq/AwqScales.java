package dev.qforge.quant.awq;

import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.model.HfConfigFile;
import dev.qforge.model.ModelConfig;
import dev.qforge.quant.transform.TransformedCheckpoint;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AWQ's per-input-channel scales of every layer, and the scaled model they make. A scale s multiplies the
 * columns of the linears that read a channel and divides whatever writes it, so the float model computes the
 * same function while the channels that carry large activations get finer quantization steps:
 * <ul>
 *   <li>attention: q, k, v columns × s, the attention norm's gain ÷ s;</li>
 *   <li>values: o's columns × t (each query head's columns reading its key/value head's entries), v's rows
 *       and bias ÷ t — t has one entry per value channel, so grouped-query attention shares it between the
 *       query heads of a group;</li>
 *   <li>MLP: gate and up columns × s, the MLP norm's gain ÷ s;</li>
 *   <li>down: down's columns × s, up's rows ÷ s (silu(gate)·up is linear in up).</li>
 * </ul>
 */
public final class AwqScales {
    /** One layer's scales; a null entry leaves that group as it is. */
    public record Layer(float[] attention, float[] values, float[] mlp, float[] down) {
    }

    private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d+)\\.(.+)$");

    private final ModelConfig config;
    private final Layer[] layers;

    public AwqScales(ModelConfig config) {
        this.config = config;
        this.layers = new Layer[config.numLayers()];
    }

    public void set(int layer, Layer scales) {
        layers[layer] = scales;
    }

    public Layer layer(int layer) {
        return layers[layer];
    }

    /** The query-head column {@code c} of o's input → its entry of the value scales. */
    static int valueIndex(ModelConfig c, int column) {
        int hd = c.headDim();
        int group = c.numHeads() / c.numKvHeads();
        return column / hd / group * hd + column % hd;
    }

    /** Writes the scaled model of {@code modelDir} (F32, one safetensors file) into the new folder {@code target}. */
    public void write(Path modelDir, Path target) {
        ModelConfig c = HfConfigFile.read(modelDir.resolve("config.json"));
        if (c.numLayers() != config.numLayers() || c.hiddenSize() != config.hiddenSize()) {
            throw new IllegalArgumentException(modelDir + ": not the model these scales were searched on");
        }
        TransformedCheckpoint.write(modelDir, target, false, "AWQ-scaled", this::scaled);
    }

    /** One tensor of the scaled model. */
    float[] scaled(SafetensorsCheckpoint ck, String name) {
        float[] v = ck.tensor(name).toFloatArray();
        Matcher m = LAYER.matcher(name);
        if (!m.matches()) {
            return v;
        }
        Layer s = layers[Integer.parseInt(m.group(1))];
        if (s == null) {
            return v;
        }
        String part = m.group(2);
        switch (part) {
            case "input_layernorm.weight" -> divide(v, s.attention());
            case "post_attention_layernorm.weight" -> divide(v, s.mlp());
            case "self_attn.q_proj.weight", "self_attn.k_proj.weight" -> scaleColumns(v, s.attention());
            case "self_attn.v_proj.weight" -> {
                scaleColumns(v, s.attention());
                divideRows(v, s.values());
            }
            case "self_attn.v_proj.bias" -> divide(v, s.values());
            case "self_attn.o_proj.weight" -> {
                if (s.values() != null) {
                    float[] t = s.values();
                    float[] expanded = new float[config.qDim()];
                    for (int col = 0; col < expanded.length; col++) {
                        expanded[col] = t[valueIndex(config, col)];
                    }
                    scaleColumns(v, expanded);
                }
            }
            case "mlp.gate_proj.weight" -> scaleColumns(v, s.mlp());
            case "mlp.up_proj.weight" -> {
                scaleColumns(v, s.mlp());
                divideRows(v, s.down());
            }
            case "mlp.down_proj.weight" -> scaleColumns(v, s.down());
            default -> {
                // biases of q and k, q/k norms: they see neither a scaled input nor a scaled output
            }
        }
        return v;
    }

    private static void divide(float[] v, float[] s) {
        if (s != null) {
            for (int i = 0; i < v.length; i++) {
                v[i] /= s[i];
            }
        }
    }

    private static void scaleColumns(float[] w, float[] s) {
        if (s != null) {
            int cols = s.length;
            for (int i = 0; i < w.length; i++) {
                w[i] *= s[i % cols];
            }
        }
    }

    private static void divideRows(float[] w, float[] s) {
        if (s != null) {
            int cols = w.length / s.length;
            for (int i = 0; i < w.length; i++) {
                w[i] /= s[i / cols];
            }
        }
    }
}
