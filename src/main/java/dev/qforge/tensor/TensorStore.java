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

    /**
     * The named 2-D tensor as a weight matrix in its stored format. Stores of plain float tensors take
     * the default; stores that hold block-quantized tensors (GGUF) return those blocks as they are.
     */
    default WeightMatrix matrix(String name) {
        Tensor t = tensor(name);
        if (t.rank() != 2 || !t.dtype().isFloatingPoint() || t.dtype() == DType.F64 || t.dtype().byteSize() == 1) {
            throw new dev.qforge.QforgeException(source() + ": tensor '" + name + "' is " + t
                    + "; a weight matrix must be 2-D F32, F16 or BF16");
        }
        return WeightMatrix.of(t);
    }

    @Override
    void close();
}
