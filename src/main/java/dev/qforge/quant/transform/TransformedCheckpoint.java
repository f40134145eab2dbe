package dev.qforge.quant.transform;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.QforgeException;
import dev.qforge.format.JsonFiles;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.format.SafetensorsWriter;
import dev.qforge.model.HfConfigFile;
import dev.qforge.model.ModelConfig;
import dev.qforge.model.TensorLayout;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A model folder rewritten through a transform that changes weights but not the function (a rotation, AWQ's
 * scales): every tensor of the layout in F32, in one safetensors file, the tokenizer and other files copied.
 * Tensors are computed as the writer reaches them, so one transformed tensor is in memory at a time; the
 * later stages read the result like any checkpoint.
 */
public final class TransformedCheckpoint {
    /** A tensor's new values, by Hugging Face name, from the source checkpoint. */
    @FunctionalInterface
    public interface Values {
        float[] of(SafetensorsCheckpoint source, String name);
    }

    private TransformedCheckpoint() {
    }

    /**
     * Writes the transformed model of {@code modelDir} into the new folder {@code target}.
     *
     * @param untieHead give a tied model its own {@code lm_head.weight} (asked of {@code values}) and say so in config.json
     * @param what      the transform, for messages
     */
    public static void write(Path modelDir, Path target, boolean untieHead, String what, Values values) {
        ModelConfig c = HfConfigFile.read(modelDir.resolve("config.json"));
        try (SafetensorsCheckpoint ck = SafetensorsCheckpoint.open(modelDir)) {
            Files.createDirectories(target);
            copyOtherFiles(modelDir, target);
            SafetensorsWriter w = new SafetensorsWriter();
            w.metadata("format", "pt");
            boolean untie = untieHead && !ck.contains(TensorLayout.LM_HEAD);
            List<TensorLayout.Spec> specs = new ArrayList<>(TensorLayout.of(c));
            if (untie) {
                specs.add(new TensorLayout.Spec(TensorLayout.LM_HEAD, new long[]{c.vocabSize(), c.hiddenSize()},
                        TensorLayout.Role.LM_HEAD));
            }
            for (TensorLayout.Spec s : specs) {
                String name = s.name();
                w.add(name, DType.F32, s.shape(), out -> {
                    float[] v = values.of(ck, name);
                    byte[] b = new byte[v.length * 4];
                    MemorySegment.copy(v, 0, MemorySegment.ofArray(b), Tensor.F32, 0, v.length);
                    out.write(b);
                });
            }
            if (untie) {
                ObjectNode json = (ObjectNode) JsonFiles.readObject(modelDir.resolve("config.json"));
                json.put("tie_word_embeddings", false);
                byte[] text = (json.toPrettyString() + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8);
                Files.write(target.resolve("config.json"), text);
            }
            w.write(target.resolve(SafetensorsCheckpoint.SINGLE_FILE));
        } catch (IOException e) {
            throw new QforgeException(target + ": cannot write the " + what + " model: " + e.getMessage(), e);
        }
    }

    private static void copyOtherFiles(Path from, Path to) throws IOException {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(from)) {
            for (Path f : files) {
                String n = f.getFileName().toString();
                if (Files.isRegularFile(f) && !n.endsWith(".safetensors") && !n.equals(SafetensorsCheckpoint.INDEX_FILE)) {
                    Files.copy(f, to.resolve(n), StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
