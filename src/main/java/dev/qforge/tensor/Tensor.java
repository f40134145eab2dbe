package dev.qforge.tensor;

import dev.qforge.numeric.FloatBits;
import dev.qforge.numeric.LittleEndian;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A view of one tensor: its element type, its shape (row-major, last dimension contiguous) and the
 * bytes that hold it, usually a slice of a memory-mapped file. No copy is made; the view is valid while
 * the file that owns the segment stays open.
 */
public record Tensor(String name, DType dtype, long[] shape, MemorySegment data) {
    public static final ValueLayout.OfFloat F32 = LittleEndian.F32;
    public static final ValueLayout.OfShort I16 = LittleEndian.I16;
    public static final ValueLayout.OfInt I32 = LittleEndian.I32;
    public static final ValueLayout.OfLong I64 = LittleEndian.I64;
    public static final ValueLayout.OfDouble F64 = LittleEndian.F64;

    public Tensor {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int axis) {
        return shape[axis];
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public long byteSize() {
        return data.byteSize();
    }

    /** Element i (flat, row-major) as a float, whatever the stored floating-point or integer type. */
    public float getFloat(long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(F32, i);
            case F16 -> FloatBits.f16ToFloat(data.getAtIndex(I16, i));
            case BF16 -> FloatBits.bf16ToFloat(data.getAtIndex(I16, i));
            case F64 -> (float) data.getAtIndex(F64, i);
            case F8_E4M3 -> FloatBits.e4m3ToFloat(data.get(ValueLayout.JAVA_BYTE, i));
            case F8_E5M2 -> FloatBits.e5m2ToFloat(data.get(ValueLayout.JAVA_BYTE, i));
            default -> getLong(i);
        };
    }

    /** Element i of an integer or boolean tensor. */
    public long getLong(long i) {
        return switch (dtype) {
            case I64 -> data.getAtIndex(I64, i);
            case I32 -> data.getAtIndex(I32, i);
            case I16 -> data.getAtIndex(I16, i);
            case I8 -> data.get(ValueLayout.JAVA_BYTE, i);
            case U8, BOOL -> data.get(ValueLayout.JAVA_BYTE, i) & 0xFF;
            default -> throw new IllegalStateException(name + " is a " + dtype + " tensor, not an integer one");
        };
    }

    /** Copies row {@code row} of a 2-D floating-point tensor into dst[dstOff..], converting to float. */
    public void copyRowTo(long row, float[] dst, int dstOff) {
        int cols = (int) shape[shape.length - 1];
        long base = row * cols;
        if (dtype == DType.F32) {
            MemorySegment.copy(data, F32, base * 4, dst, dstOff, cols);
            return;
        }
        for (int c = 0; c < cols; c++) {
            dst[dstOff + c] = getFloat(base + c);
        }
    }

    public float[] toFloatArray() {
        long n = elementCount();
        checkFitsArray(n);
        float[] out = new float[(int) n];
        if (dtype == DType.F32) {
            MemorySegment.copy(data, F32, 0, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = getFloat(i);
            }
        }
        return out;
    }

    public int[] toIntArray() {
        long n = elementCount();
        checkFitsArray(n);
        int[] out = new int[(int) n];
        for (int i = 0; i < out.length; i++) {
            out[i] = Math.toIntExact(getLong(i));
        }
        return out;
    }

    private void checkFitsArray(long n) {
        if (n > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(name + " has " + n + " elements, too many for one Java array");
        }
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tensor t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && data.equals(t.data);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }
}
