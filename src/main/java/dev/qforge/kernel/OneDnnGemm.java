package dev.qforge.kernel;

import dev.qforge.kernel.onednn.NativeMatMul;
import dev.qforge.kernel.onednn.NativeMatMul.Input;
import dev.qforge.kernel.onednn.OneDnn;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The batch (n &ge; {@link #MIN_TOKENS}) matmul on oneDNN. BF16 and block-quantized weights go to its BF16
 * kernel: x is rounded to BF16 once; BF16 weights are read in place from their (mapped) file;
 * block-quantized weights are expanded to BF16 by the format's own dequantizer, a slice of rows at a time,
 * into a reused native buffer; oneDNN multiplies with the CPU's BF16 dot product (AVX512-BF16
 * {@code vdpbf16ps}, or AMX tiles), summing in F32. F32 weights go to its F32 kernel, read in place with x
 * unrounded: the same arithmetic as qforge's GEMM, in another order, with oneDNN's faster blocking.
 *
 * <p>Rows go in slices of at most {@link #SLICE_ELEMENTS} weights, so that the expanded weights and
 * the F32 results stay a few tens of MiB whatever the matrix (a 128k-row output projection included).
 *
 * <p>Precision: against the Java GEMM's F32 activations, rounding x to BF16 costs ~2^-9 relative per
 * element, the same order as the 8-bit activation blocks ggml uses for quantized weights; an expanded
 * block weight is rounded to BF16 too (exact for Q4_0's and Q8_0's levels times a power-of-two scale,
 * ~2^-9 relative otherwise).
 */
final class OneDnnGemm {
    /** Fewer tokens than this stay on the Java kernels (measured on [8192, 2048] Q4_0, Q4_K, IQ4_XS, Q6_K: oneDNN's BF16 path is ahead from 8 tokens, behind at 4); -Dqforge.onednnMinTokens moves it. */
    static final int MIN_TOKENS = Integer.getInteger("qforge.onednnMinTokens", 8);
    /** Weights per oneDNN call (32 MiB of BF16, 64 of F32). */
    private static final long SLICE_ELEMENTS = 16L << 20;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfShort BF16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final VectorSpecies<Float> FS = MatMul.FS;
    private static final VectorSpecies<Integer> IS = MatMul.IS;
    private static final VectorSpecies<Short> SS = MatMul.SS;
    private static final int ROWS_PER_TASK = 16;

    private static final Object LOCK = new Object();
    private static NativeMatMul matmul;
    private static MemorySegment xBuf = MemorySegment.NULL;
    private static MemorySegment wBuf = MemorySegment.NULL;
    private static MemorySegment outBuf = MemorySegment.NULL;
    private static final ThreadLocal<float[]> ROW = ThreadLocal.withInitial(() -> new float[0]);

    private OneDnnGemm() {
    }

    /** Whether a batch of n tokens goes native now. */
    static boolean takes(int n) {
        return n >= MIN_TOKENS && MatMulBackend.nativeOn();
    }

    /** BF16 or F32 weights [rows, cols] read in place when native, else copied a slice at a time. */
    static void floats(Input input, MemorySegment w, int rows, int cols, float[] x, int n, float[] out) {
        run(input, rows, cols, x, n, out, (r0, count, buffer) -> {
            long bytes = bytesOf(input) * count * cols;
            MemorySegment slice = w.asSlice(bytesOf(input) * r0 * cols, bytes);
            if (slice.isNative()) {
                return slice;
            }
            MemorySegment.copy(slice, 0, buffer, 0, bytes);
            return buffer;
        });
    }

    /** Block-quantized weights, each slice of rows expanded by the format's dequantizer. */
    static void blocks(dev.qforge.tensor.WeightMatrix w, float[] x, int n, float[] out) {
        int cols = w.cols();
        long rowBytes = w.rowBytes();
        run(Input.BF16, w.rows(), cols, x, n, out, (r0, count, buffer) -> {
            int tasks = (count + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
            Parallel.forRange(tasks, t -> {
                float[] row = row(cols);
                for (int r = t * ROWS_PER_TASK, end = Math.min(count, r + ROWS_PER_TASK); r < end; r++) {
                    w.format().dequantize(w.data(), (r0 + r) * rowBytes, cols, row, 0);
                    toBf16(row, 0, cols, buffer, 2L * r * cols);
                }
            });
            return buffer;
        });
    }

    /** Where a slice of weight rows [r0, r0+count) is as BF16, contiguous with stride cols; may fill buffer. */
    private interface SliceSource {
        MemorySegment slice(int r0, int count, MemorySegment buffer);
    }

    private static long bytesOf(Input input) {
        return input == Input.BF16 ? 2 : 4;
    }

    private static void run(Input input, int rows, int cols, float[] x, int n, float[] out, SliceSource weights) {
        if (rows == 0 || n == 0) {
            return;
        }
        if (cols == 0) {
            java.util.Arrays.fill(out, 0, n * rows, 0f);
            return;
        }
        int sliceRows = (int) Math.max(1, Math.min(rows, SLICE_ELEMENTS / cols));
        long size = bytesOf(input);
        synchronized (LOCK) {
            if (matmul == null) {
                matmul = new NativeMatMul(OneDnn.get());
            }
            xBuf = atLeast(xBuf, size * n * cols);
            wBuf = atLeast(wBuf, size * sliceRows * cols);
            outBuf = atLeast(outBuf, 4L * n * sliceRows);
            MemorySegment xs = xBuf;
            if (input == Input.BF16) {
                Parallel.forRange(n, t -> toBf16(x, t * cols, cols, xs, 2L * t * cols));
            } else {
                MemorySegment.copy(x, 0, xs, F32, 0, n * cols);
            }
            for (int r0 = 0; r0 < rows; r0 += sliceRows) {
                int count = Math.min(sliceRows, rows - r0);
                MemorySegment w = weights.slice(r0, count, wBuf);
                matmul.run(input, xs, w, cols, outBuf, n, count, cols, Parallel.threads());
                for (int t = 0; t < n; t++) {
                    MemorySegment.copy(outBuf, F32, 4L * t * count, out, t * rows + r0, count);
                }
            }
        }
    }

    private static MemorySegment atLeast(MemorySegment buf, long bytes) {
        if (buf.byteSize() >= bytes) {
            return buf;
        }
        // Held for the process, grown to the largest call: Arena.global() frees nothing, so use an auto arena.
        return Arena.ofAuto().allocate(Math.max(bytes, buf.byteSize() * 3 / 2), 64);
    }

    private static float[] row(int n) {
        float[] a = ROW.get();
        if (a.length < n) {
            a = new float[n];
            ROW.set(a);
        }
        return a;
    }

    /** src[off, off+count) rounded to BF16 (nearest even; NaN stays NaN, as FloatBits.floatToBf16) into dst at a byte offset. */
    static void toBf16(float[] src, int off, int count, MemorySegment dst, long dstOff) {
        int i = 0;
        int bound = FS.loopBound(count);
        IntVector one = IntVector.broadcast(IS, 1);
        for (; i < bound; i += FS.length()) {
            IntVector bits = FloatVector.fromArray(FS, src, off + i).reinterpretAsInts();
            IntVector rounded = bits.add(bits.lanewise(VectorOperators.LSHR, 16).and(one)).add(0x7FFF);
            VectorMask<Integer> nan = bits.and(0x7FFF_FFFF).compare(VectorOperators.GT, 0x7F80_0000);
            IntVector top = rounded.lanewise(VectorOperators.LSHR, 16)
                    .blend(bits.lanewise(VectorOperators.LSHR, 16).or(0x40), nan);
            ShortVector s = (ShortVector) top.castShape(SS, 0);
            s.intoMemorySegment(dst, dstOff + 2L * i, LE);
        }
        for (; i < count; i++) {
            dst.set(BF16, dstOff + 2L * i, dev.qforge.numeric.FloatBits.floatToBf16(src[off + i]));
        }
    }
}
