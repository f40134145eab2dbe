package dev.qforge.tensor;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Cleaner;
import java.util.function.BiFunction;

/**
 * A weight matrix [rows, cols] whose rows are stored in one block format of the table (F32, BF16, Q4_K,
 * …), as a view over the bytes of a file. The decoder holds its projections as these, so one model can
 * mix formats tensor by tensor.
 *
 * <p>A matrix also carries the decode layout that the runtime derives from its bytes the first time it
 * decodes a single token with it (see the kernel package's interleaved layouts). It belongs to this object,
 * not to an equal one: two matrices with the same name over the same address (a file unmapped and another
 * mapped in its place) must never share it. It is freed by {@link #releaseDecodeLayout} (a model's close
 * does that), or else once the matrix is unreachable: its memory is outside the Java heap, often
 * gigabytes, so a process that loads model after model should not wait for a collection to reclaim it.
 */
public final class WeightMatrix {
    private final String name;
    private final BlockFormat format;
    private final int rows;
    private final int cols;
    private final MemorySegment data;
    private static final Cleaner CLEANER = Cleaner.create();

    private volatile MemorySegment decodeLayout;
    /** Frees the decode layout's arena: explicitly, or when this matrix becomes unreachable. */
    private Cleaner.Cleanable decodeLayoutRelease;

    public WeightMatrix(String name, BlockFormat format, int rows, int cols, MemorySegment data) {
        if (cols % format.blockSize() != 0) {
            throw new IllegalArgumentException(name + ": " + cols + " columns is not a multiple of " + format.name()
                    + "'s block of " + format.blockSize());
        }
        if (data.byteSize() < rows * format.rowBytes(cols)) {
            throw new IllegalArgumentException(name + ": " + data.byteSize() + " bytes, fewer than " + rows + " rows of "
                    + format.name() + " need");
        }
        this.name = name;
        this.format = format;
        this.rows = rows;
        this.cols = cols;
        this.data = data;
    }

    /** A 2-D F32, F16 or BF16 tensor as a matrix. */
    public static WeightMatrix of(Tensor t) {
        if (t.rank() != 2) {
            throw new IllegalArgumentException(t.name() + " is not a matrix: " + t);
        }
        return new WeightMatrix(t.name(), BlockFormats.byName(t.dtype().name()), Math.toIntExact(t.dim(0)),
                Math.toIntExact(t.dim(1)), t.data());
    }

    public String name() {
        return name;
    }

    public BlockFormat format() {
        return format;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** The rows in the format's own bytes. */
    public MemorySegment data() {
        return data;
    }

    /**
     * The decode layout of this matrix, made by {@code build} in an arena of its own on the first call (once,
     * also under races).
     */
    public MemorySegment decodeLayout(BiFunction<WeightMatrix, Arena, MemorySegment> build) {
        MemorySegment l = decodeLayout;
        if (l == null) {
            synchronized (this) {
                l = decodeLayout;
                if (l == null) {
                    Arena arena = Arena.ofShared();
                    try {
                        l = build.apply(this, arena);
                    } catch (RuntimeException | Error e) {
                        arena.close();
                        throw e;
                    }
                    decodeLayoutRelease = CLEANER.register(this, arena::close);
                    decodeLayout = l;
                }
            }
        }
        return l;
    }

    /** Frees the decode layout now, if there is one; a later single-token product builds it again. */
    public synchronized void releaseDecodeLayout() {
        if (decodeLayoutRelease != null) {
            decodeLayout = null;
            decodeLayoutRelease.clean();
            decodeLayoutRelease = null;
        }
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

    @Override
    public String toString() {
        return "WeightMatrix[" + name + ", " + format.name() + ", " + rows + "×" + cols + "]";
    }
}
