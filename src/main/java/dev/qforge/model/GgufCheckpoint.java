package dev.qforge.model;

import dev.qforge.QforgeException;
import dev.qforge.format.GgufFile;
import dev.qforge.format.GgufMetadata;
import dev.qforge.format.GgufTensorInfo;
import dev.qforge.format.GgufTensorNames;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.tensor.Tensor;
import dev.qforge.tensor.TensorStore;
import dev.qforge.tensor.WeightMatrix;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A llama.cpp GGUF model file seen as a checkpoint with Hugging Face tensor names, so the one decoder
 * runs it: quantized matrices stay in their blocks (any format of the block table), and the
 * configuration comes from the GGUF metadata ({@code <arch>.embedding_length} …).
 */
public final class GgufCheckpoint implements TensorStore {
    private final GgufFile file;
    private final Map<String, String> hfToGguf = new LinkedHashMap<>();

    private GgufCheckpoint(GgufFile file) {
        this.file = file;
        for (String name : file.names()) {
            String hf = GgufTensorNames.toHf(name);
            if (hf != null) {
                hfToGguf.put(hf, name);
            }
        }
    }

    public static GgufCheckpoint open(Path path) {
        return new GgufCheckpoint(GgufFile.open(path));
    }

    public GgufFile file() {
        return file;
    }

    /** The decoder configuration the metadata describes. */
    public ModelConfig config() {
        GgufMetadata m = file.metadata();
        String arch = m.getString("general.architecture");
        ModelFamily family = switch (arch) {
            case "llama" -> ModelFamily.LLAMA;
            case "qwen2" -> ModelFamily.QWEN2;
            case "qwen3" -> ModelFamily.QWEN3;
            default -> throw new QforgeException(file.path() + ": architecture '" + arch
                    + "' is not supported; supported: llama, qwen2, qwen3");
        };
        int hidden = m.getInt(arch + ".embedding_length");
        int heads = m.getInt(arch + ".attention.head_count");
        int kvHeads = m.getInt(arch + ".attention.head_count_kv", heads);
        int headDim = m.getInt(arch + ".attention.key_length", hidden / heads);
        int vocab = m.contains(arch + ".vocab_size") ? m.getInt(arch + ".vocab_size")
                : m.getStringArray("tokenizer.ggml.tokens").size();
        RopeScaling scaling = RopeScaling.NONE;
        String scalingType = m.getString(arch + ".rope.scaling.type", "none");
        if (scalingType.equals("linear")) {
            scaling = RopeScaling.linear(m.getFloat(arch + ".rope.scaling.factor"));
        } else if (!scalingType.equals("none")) {
            throw new QforgeException(file.path() + ": rope scaling '" + scalingType + "' is not supported");
        } else if (file.contains("rope_freqs.weight")) {
            // Llama 3.x: llama.cpp's converter stores the scaling as a factor per rotary pair.
            int headDimension = m.getInt(arch + ".rope.dimension_count", m.getInt(arch + ".attention.key_length", hidden / heads));
            float[] factors = file.tensor("rope_freqs.weight").toFloatArray();
            scaling = RopeScaling.fromFreqFactors(factors, m.getFloat(arch + ".rope.freq_base", 10000f), headDimension);
            if (scaling == null) {
                throw new QforgeException(file.path() + ": rope_freqs.weight holds RoPE factors qforge cannot represent"
                        + " (only Llama 3.1/3.2's scaling is supported)");
            }
        }
        return new ModelConfig(family, hidden, m.getInt(arch + ".feed_forward_length"), m.getInt(arch + ".block_count"),
                heads, kvHeads, headDim, vocab, m.getInt(arch + ".context_length", 2048),
                m.getFloat(arch + ".attention.layer_norm_rms_epsilon"), m.getFloat(arch + ".rope.freq_base", 10000f),
                scaling, !file.contains("output.weight"), contains("model.layers.0.self_attn.q_proj.bias"),
                family.hasQkNorm(), 0,
                m.contains("tokenizer.ggml.bos_token_id") ? m.getInt("tokenizer.ggml.bos_token_id") : null,
                m.contains("tokenizer.ggml.eos_token_id") ? m.getInt("tokenizer.ggml.eos_token_id") : null);
    }

    /** llama.cpp's converter permutes q/k of the llama architecture for interleaved RoPE; Qwen keeps NEOX pairing. */
    public RopeLayout ropeLayout() {
        return file.metadata().getString("general.architecture").equals("llama") ? RopeLayout.INTERLEAVED : RopeLayout.ROTATE_HALF;
    }

    @Override
    public Path source() {
        return file.path();
    }

    @Override
    public List<String> names() {
        return new ArrayList<>(hfToGguf.keySet());
    }

    @Override
    public boolean contains(String name) {
        return hfToGguf.containsKey(name);
    }

    @Override
    public Tensor tensor(String name) {
        return file.tensor(ggufName(name));
    }

    @Override
    public WeightMatrix matrix(String name) {
        GgufTensorInfo info = file.info(ggufName(name));
        if (info.nDims() != 2) {
            throw new QforgeException(file.path() + ": tensor '" + info.name() + "' is not a matrix");
        }
        BlockFormat format = BlockFormats.byGgmlType(info.type().id());
        if (format == null) {
            throw new QforgeException(file.path() + ": tensor '" + info.name() + "' is " + info.type()
                    + ", a format qforge cannot compute with yet");
        }
        return new WeightMatrix(name, format, Math.toIntExact(info.ne()[1]), Math.toIntExact(info.ne()[0]), file.data(info));
    }

    private String ggufName(String hf) {
        String g = hfToGguf.get(hf);
        if (g == null) {
            throw new QforgeException(file.path() + ": no tensor for '" + hf + "'");
        }
        return g;
    }

    @Override
    public void close() {
        file.close();
    }
}
