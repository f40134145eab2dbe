package dev.qforge.format;

import dev.qforge.kernel.blocks.GgmlType;

import java.util.Arrays;

/**
 * One tensor of a GGUF file as its tensor-info entry describes it. {@code ne} is in ggml order: ne[0] is
 * the contiguous dimension (a row), so a [rows, cols] matrix is ne = {cols, rows}; {@link #shape()} gives
 * the row-major shape. {@code offset} is relative to the start of the data section.
 */
public record GgufTensorInfo(String name, long[] ne, GgmlType type, long offset) {
    public GgufTensorInfo {
        ne = ne.clone();
    }

    /** Dimensions in ggml order (ne[0] contiguous), as many as the file stores. */
    @Override
    public long[] ne() {
        return ne.clone();
    }

    public int nDims() {
        return ne.length;
    }

    /** Row-major shape: ne reversed, last dimension contiguous. */
    public long[] shape() {
        long[] s = new long[ne.length];
        for (int i = 0; i < ne.length; i++) {
            s[i] = ne[ne.length - 1 - i];
        }
        return s;
    }

    public long elementCount() {
        long n = 1;
        for (long d : ne) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** Bytes of the tensor's data (without padding). */
    public long byteSize() {
        return byteSize(type, ne);
    }

    /** Bytes of a tensor of this type and ggml-order dims; ne[0] must be a multiple of the block size. */
    public static long byteSize(GgmlType type, long[] ne) {
        long n = 1;
        for (long d : ne) {
            n = Math.multiplyExact(n, d);
        }
        return Math.multiplyExact(n / type.blockSize(), (long) type.bytesPerBlock());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensorInfo t && name.equals(t.name) && Arrays.equals(ne, t.ne) && type == t.type
                && offset == t.offset;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(ne);
    }

    @Override
    public String toString() {
        return name + " " + type + Arrays.toString(ne) + " @" + offset;
    }
}
