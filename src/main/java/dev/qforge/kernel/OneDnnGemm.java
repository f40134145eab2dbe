package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.kernel.onednn.NativeMatMul;
import dev.qforge.kernel.onednn.NativeMatMul.Input;
import dev.qforge.kernel.onednn.OneDnn;

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
    /** The block table's BF16 entry: its quantize rounds activations and expanded weights. */
    private static final BlockFormat BF16_FORMAT = BlockFormats.byName("BF16");
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);
    private static final int ROWS_PER_TASK = 16;

    private static final Object LOCK = new Object();
    private static NativeMatMul matmul;
    private static MemorySegment xBuf = MemorySegment.NULL;
    private static MemorySegment wBuf = MemorySegment.NULL;
    private static MemorySegment outBuf = MemorySegment.NULL;

    private OneDnnGemm() {
    }

    /** Whether a batch of n tokens goes native now. */
    static boolean takes(int n) {
        return n >= MIN_TOKENS && MatMulBackend.nativeOn();
    }

    /**
     * BF16 or F32 weights [rows, cols] read in place when native, else copied a slice at a time. False when oneDNN
     * failed ({@link MatMulBackend#nativeFailed}: later batches stay on Java); the caller then runs its Java path.
     */
    static boolean floats(Input input, MemorySegment w, int rows, int cols, float[] x, int n, float[] out) {
        return run(input, rows, cols, x, n, out, (r0, count, buffer) -> {
            long bytes = (long) input.bytes() * count * cols;
            MemorySegment slice = w.asSlice((long) input.bytes() * r0 * cols, bytes);
            if (slice.isNative()) {
                return slice;
            }
            MemorySegment.copy(slice, 0, buffer, 0, bytes);
            return buffer;
        });
    }

    /** Block-quantized weights, each slice of rows expanded by the format's dequantizer; false as {@link #floats}. */
    static boolean blocks(dev.qforge.tensor.WeightMatrix w, float[] x, int n, float[] out) {
        int cols = w.cols();
        long rowBytes = w.rowBytes();
        return run(Input.BF16, w.rows(), cols, x, n, out, (r0, count, buffer) -> {
            int tasks = (count + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
            Parallel.forRange(tasks, t -> {
                float[] row = MatMul.rowBuffer(cols);
                for (int r = t * ROWS_PER_TASK, end = Math.min(count, r + ROWS_PER_TASK); r < end; r++) {
                    w.format().dequantize(w.data(), (r0 + r) * rowBytes, cols, row, 0);
                    BF16_FORMAT.quantize(row, 0, cols, null, buffer, 2L * r * cols);
                }
            });
            return buffer;
        });
    }

    /** Where a slice of weight rows [r0, r0+count) is as BF16, contiguous with stride cols; may fill buffer. */
    private interface SliceSource {
        MemorySegment slice(int r0, int count, MemorySegment buffer);
    }

    /** The native product of one slice; a test puts a failing one in its place. */
    interface NativeCall {
        void run(Input input, MemorySegment src, MemorySegment weights, long weightStride, MemorySegment dst, int n,
                 int rows, int cols, int threads);
    }

    /** Null: oneDNN's matmul. */
    private static NativeCall override;

    /** For tests: the native call to use instead of oneDNN's (null restores it). */
    static void useNativeCall(NativeCall call) {
        synchronized (LOCK) {
            override = call;
        }
    }

    private static boolean run(Input input, int rows, int cols, float[] x, int n, float[] out, SliceSource weights) {
        if (rows == 0 || n == 0) {
            return true;
        }
        if (cols == 0) {
            java.util.Arrays.fill(out, 0, n * rows, 0f);
            return true;
        }
        int sliceRows = (int) Math.max(1, Math.min(rows, SLICE_ELEMENTS / cols));
        long size = input.bytes();
        synchronized (LOCK) {
            if (override == null && matmul == null) {
                matmul = new NativeMatMul(OneDnn.get());
            }
            NativeCall call = override != null ? override : matmul::run;
            xBuf = atLeast(xBuf, size * n * cols);
            wBuf = atLeast(wBuf, size * sliceRows * cols);
            outBuf = atLeast(outBuf, 4L * n * sliceRows);
            MemorySegment xs = xBuf;
            if (input == Input.BF16) {
                Parallel.forRange(n, t -> BF16_FORMAT.quantize(x, t * cols, cols, null, xs, 2L * t * cols));
            } else {
                MemorySegment.copy(x, 0, xs, F32, 0, n * cols);
            }
            for (int r0 = 0; r0 < rows; r0 += sliceRows) {
                int count = Math.min(sliceRows, rows - r0);
                MemorySegment w = weights.slice(r0, count, wBuf);
                try {
                    call.run(input, xs, w, cols, outBuf, n, count, cols, Parallel.threads());
                } catch (RuntimeException | LinkageError e) {
                    // a primitive oneDNN cannot make for this shape, a library that stops answering: the batch
                    // is recomputed on the Java GEMM (rows already written are overwritten) and so are later ones
                    MatMulBackend.nativeFailed(e);
                    return false;
                }
                for (int t = 0; t < n; t++) {
                    MemorySegment.copy(outBuf, F32, 4L * t * count, out, t * rows + r0, count);
                }
            }
        }
        return true;
    }

    private static MemorySegment atLeast(MemorySegment buf, long bytes) {
        if (buf.byteSize() >= bytes) {
            return buf;
        }
        // Held for the process, grown to the largest call: Arena.global() frees nothing, so use an auto arena.
        return Arena.ofAuto().allocate(Math.max(bytes, buf.byteSize() * 3 / 2), 64);
    }
}
