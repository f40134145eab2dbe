package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.format.GgufFile;
import dev.qforge.format.GgufTensorInfo;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.model.GgufCheckpoint;
import dev.qforge.model.HfConfigFile;
import dev.qforge.model.ModelConfig;
import dev.qforge.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code qforge inspect}: what a model directory or weights file holds. */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a model's architecture, parameter count, tensors (name, dtype, shape, bytes), size and bits per weight.")
public final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PATH", description = "A model directory, a .safetensors file, a model.safetensors.index.json or a .gguf file.")
    Path path;

    @Option(names = "--no-tensors", description = "Only the summary, not the tensor table.")
    boolean noTensors;

    @Override
    public Integer call() {
        if (!Files.exists(path)) {
            throw new QforgeException(path + ": no such file or directory");
        }
        PrintWriter out = spec.commandLine().getOut();
        if (Files.isRegularFile(path) && path.getFileName().toString().endsWith(".gguf")) {
            inspectGguf(out);
            return 0;
        }
        Path configFile = (Files.isDirectory(path) ? path : path.toAbsolutePath().getParent()).resolve("config.json");
        if (Files.exists(configFile)) {
            ModelConfig c = HfConfigFile.read(configFile);
            out.printf(Locale.ROOT, "architecture: %s (model_type %s)%n", c.family().architecture(), c.family().modelType());
            out.printf(Locale.ROOT, "shape: hidden %d, layers %d, heads %d (kv %d, head_dim %d), ffn %d, vocab %d, %s embeddings%n",
                    c.hiddenSize(), c.numLayers(), c.numHeads(), c.numKvHeads(), c.headDim(), c.intermediateSize(),
                    c.vocabSize(), c.tieWordEmbeddings() ? "tied" : "untied");
            out.printf(Locale.ROOT, "rope: theta %.0f, scaling %s; max positions %d%n", c.ropeTheta(),
                    c.ropeScaling().type(), c.maxPositions());
        }
        try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(path)) {
            long elements = 0;
            long bytes = 0;
            int nameWidth = checkpoint.names().stream().mapToInt(String::length).max().orElse(4);
            if (!noTensors) {
                out.printf(Locale.ROOT, "%-" + nameWidth + "s  %-7s  %-16s  %12s%n", "name", "dtype", "shape", "bytes");
            }
            for (String name : checkpoint.names()) {
                Tensor t = checkpoint.tensor(name);
                elements += t.elementCount();
                bytes += t.byteSize();
                if (!noTensors) {
                    out.printf(Locale.ROOT, "%-" + nameWidth + "s  %-7s  %-16s  %,12d%n", name, t.dtype(),
                            Arrays.toString(t.shape()), t.byteSize());
                }
            }
            out.printf(Locale.ROOT, "tensors: %d in %d file(s); parameters: %,d; size: %s; bits per weight: %.3f%n",
                    checkpoint.names().size(), checkpoint.files().size(), elements, Sizes.format(bytes),
                    elements == 0 ? 0.0 : bytes * 8.0 / elements);
        }
        return 0;
    }

    private void inspectGguf(PrintWriter out) {
        try (GgufCheckpoint checkpoint = GgufCheckpoint.open(path)) {
            GgufFile f = checkpoint.file();
            out.printf(Locale.ROOT, "GGUF v%d, %d metadata keys, alignment %d%n", f.version(), f.metadata().size(), f.alignment());
            String arch = f.metadata().getString("general.architecture", "?");
            out.printf(Locale.ROOT, "architecture: %s, name: %s, file type: %d%n", arch, f.metadata().getString("general.name", "?"),
                    f.metadata().getInt("general.file_type", -1));
            long elements = 0;
            long bytes = 0;
            int nameWidth = f.names().stream().mapToInt(String::length).max().orElse(4);
            if (!noTensors) {
                out.printf(Locale.ROOT, "%-" + nameWidth + "s  %-8s  %-16s  %12s%n", "name", "type", "shape", "bytes");
            }
            for (GgufTensorInfo t : f.tensorInfos()) {
                elements += t.elementCount();
                bytes += t.byteSize();
                if (!noTensors) {
                    out.printf(Locale.ROOT, "%-" + nameWidth + "s  %-8s  %-16s  %,12d%n", t.name(), t.type(),
                            Arrays.toString(t.shape()), t.byteSize());
                }
            }
            out.printf(Locale.ROOT, "tensors: %d; parameters: %,d; size: %s; bits per weight: %.3f%n", f.tensorInfos().size(),
                    elements, Sizes.format(bytes), elements == 0 ? 0.0 : bytes * 8.0 / elements);
        }
    }
}
