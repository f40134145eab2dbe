package dev.qforge.tensor;

import java.nio.file.Path;
import java.util.List;

/** Named tensors from one or more files, alive until closed. Safetensors and GGUF both serve weights this way. */
public interface TensorStore extends AutoCloseable {
    /** Where the tensors come from (a file or a model directory), for messages. */
    Path source();

    List<String> names();

    boolean contains(String name);

    /** The tensor; a missing name is a QforgeException naming the source. */
    Tensor tensor(String name);

    @Override
    void close();
}
