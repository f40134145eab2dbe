package dev.qforge.quant.rtn;

import dev.qforge.QforgeException;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;

/**
 * Round to nearest, llama.cpp's method: each row quantized by its block format on its own, with an
 * importance (an imatrix's mean squared inputs) where one is given — byte for byte what llama-quantize
 * writes. It streams: a band of rows is read from the mapped checkpoint, quantized in parallel and written,
 * so a tensor never has to fit in memory.
 */
public final class RoundToNearest {
    private static final int ROWS_PER_BAND = 256;

    private RoundToNearest() {
    }

    /**
     * Quantizes tensor {@code t} to {@code type} and writes its bytes, row {@code r} of the output taken from
     * row {@code perm[r]} of the tensor (all rows in order when perm is null).
     */
    public static void write(OutputStream out, Tensor t, String name, GgmlType type, int[] perm, float[] importance)
            throws IOException {
        BlockFormat format = BlockFormats.byGgmlType(type.id());
        if (format == null) {
            throw new QforgeException(name + ": qforge cannot write " + type + " tensors");
        }
        int cols = Math.toIntExact(t.rank() == 1 ? t.dim(0) : t.dim(t.rank() - 1));
        long rowsLong = t.elementCount() / cols;
        int rows = Math.toIntExact(rowsLong);
        if (t.rank() == 1) {
            // A 1-D tensor is one row; a permuted bias is reordered element by element.
            float[] v = t.toFloatArray();
            if (perm != null) {
                float[] p = new float[v.length];
                for (int i = 0; i < v.length; i++) {
                    p[i] = v[perm[i]];
                }
                v = p;
            }
            byte[] b = new byte[Math.toIntExact(format.rowBytes(cols))];
            format.quantize(v, 0, cols, importance, MemorySegment.ofArray(b), 0);
            out.write(b);
            return;
        }
        long rowBytes = format.rowBytes(cols);
        int band = Math.max(1, Math.min(rows, ROWS_PER_BAND));
        float[] src = new float[band * cols];
        byte[] dst = new byte[Math.toIntExact(rowBytes * band)];
        MemorySegment dstSeg = MemorySegment.ofArray(dst);
        for (int r0 = 0; r0 < rows; r0 += band) {
            int n = Math.min(band, rows - r0);
            int start = r0;
            Parallel.forRange(n, i -> {
                int row = start + i;
                t.copyRowTo(perm == null ? row : perm[row], src, i * cols);
                format.quantize(src, i * cols, cols, importance, dstSeg, i * rowBytes);
            });
            out.write(dst, 0, Math.toIntExact(rowBytes * n));
        }
    }
}
