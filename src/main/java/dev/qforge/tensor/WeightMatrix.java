package dev.qforge.tensor;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix [rows, cols] whose rows are stored in one block format of the table (F32, BF16, Q4_K,
 * …), as a view over the bytes of a file. The decoder holds its projections as these, so one model can
 * mix formats tensor by tensor.
 */
public record WeightMatrix(String name, BlockFormat format, int rows, int cols, MemorySegment data) {

    public WeightMatrix {
        if (cols % format.blockSize() != 0) {
            throw new IllegalArgumentException(name + ": " + cols + " columns is not a multiple of " + format.name()
                    + "'s block of " + format.blockSize());
        }
        if (data.byteSize() < rows * format.rowBytes(cols)) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes, fewer than " + rows + " rows of "
                    + format.name() + " need");
        }
    }

    /** A 2-D F32, F16 or BF16 tensor as a matrix. */
    public static WeightMatrix of(Tensor t) {
        if (t.rank() != 2) {
            throw new IllegalArgumentException(t.name() + " is not a matrix: " + t);
        }
        return new WeightMatrix(t.name(), BlockFormats.byName(t.dtype().name()), Math.toIntExact(t.dim(0)),
                Math.toIntExact(t.dim(1)), t.data());
    }

    public long rowBytes() {
        return format.rowBytes(cols);
    }

    public long byteSize() {
        return rows * rowBytes();
    }

    public long elementCount() {
        return (long) rows * cols;
    }

    /** The plain-float view of an F32/F16/BF16 matrix, or null for a block format. */
    public Tensor asFloatTensor() {
        DType dtype = switch (format.name()) {
            case "F32" -> DType.F32;
            case "F16" -> DType.F16;
            case "BF16" -> DType.BF16;
            default -> null;
        };
        return dtype == null ? null : new Tensor(name, dtype, new long[]{rows, cols}, data);
    }

    /** Row r as floats into dst[dstOff ..]. */
    public void copyRowTo(int row, float[] dst, int dstOff) {
        format.dequantize(data, row * rowBytes(), cols, dst, dstOff);
    }
}
