package dev.qforge.kernel;

import dev.qforge.kernel.blocks.F16Rebiased;
import dev.qforge.kernel.onednn.NativeMatMul;
import dev.qforge.numeric.FloatBits;
import dev.qforge.numeric.Lanes;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import dev.qforge.tensor.WeightMatrix;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Matrix products against a weight tensor stored as HF Linear weights, [rows = out, cols = in], in F32,
 * BF16 or F16, read in place from a (possibly unaligned, memory-mapped) segment.
 *
 * <p>n == 1 (decode) is a matrix-vector product, bound by memory bandwidth: rows are streamed one after
 * another, split across threads in chunks. BF16 pairs are loaded as ints and split into even and
 * odd elements, which meet an even/odd de-interleaved copy of x. F16 rows are converted a row at a time
 * into a thread-local F32 buffer by an auto-vectorized loop (hardware conversion), then dotted with x.
 *
 * <p>A few tokens (n below {@link #gemmMinN}) go to {@link SmallBatch}:
 * weights read in place, each weight vector used for four tokens.
 *
 * <p>More tokens (prefill) go to {@link Gemm}, bound by compute: each thread converts a block of weight
 * rows (a K-slice at a time) to F32 in a scratch array, and a 12-row × 2-vector-of-tokens register tile
 * multiplies it by a packed, transposed copy of x (tokens along the vector lanes), so each weight element
 * is loaded once per 32 tokens and no horizontal reductions are needed.
 */
public final class MatMul {
    static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    /** Shorts with as many lanes as FS: loaded, then widened to ints. */
    static final VectorSpecies<Short> SS =
            VectorSpecies.of(short.class, VectorShape.forBitSize(FS.vectorBitSize() / 2));
    static final int L = FS.length();
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Rows per register tile of the GEMM. */
    static final int MR = 12;
    /** Tokens per full register tile of the GEMM (two vectors). */
    static final int TW = 2 * L;
    /** Rows per GEMM task: several register tiles share the packed x that one task streams. */
    static final int RB = 4 * MR;
    /** K-slice of the weights converted at a time in the GEMM. */
    static final int KC = 512;
    /**
     * From how many tokens on the GEMM runs; below, {@link SmallBatch}. Measured side by side on 2 threads
     * (Zen 4, [2048, 2048] and [2048, 8192]): the small-batch kernels (no weight conversion, no packing)
     * match the GEMM for F32 up to n ≈ 128 and for F16 up to 96; for BF16 the GEMM wins from 32.
     */
    static int gemmMinN(DType dt) {
        return switch (dt) {
            case F32 -> 128;
            case F16 -> 112;
            default -> 32;
        };
    }
    /** Rows per decode task. */
    private static final int MATVEC_CHUNK_MIN = 16;

    private MatMul() {
    }

    /**
     * out[t*rows + r] = sum_c W[r,c] * x[t*cols + c] for t in [0,n), for W in any format of the block
     * table: F32/F16/BF16 go to the float kernels, block formats to {@link BlockMatMul}.
     */
    public static void matmul(WeightMatrix weight, float[] x, int n, float[] out) {
        Tensor floats = weight.asFloatTensor();
        if (floats != null && n != 1) {
            matmul(floats, x, n, out);
            return;
        }
        if ((long) n * weight.cols() > x.length || (long) n * weight.rows() > out.length) {
            throw new IllegalArgumentException("matmul: arrays too short for " + n + " tokens of " + weight.name());
        }
        if (floats != null) {
            if (weight.rows() > 0 && weight.cols() > 0) {
                floatsDecode(new WeightMatrix[] {weight}, x, new float[][] {out});
            } else {
                java.util.Arrays.fill(out, 0, weight.rows(), 0f);
            }
            return;
        }
        BlockMatMul.run(weight, x, n, out);
    }

    /**
     * outs[i] = ws[i]·x for one token and matrices that read the same input (a layer's q, k and v projections,
     * or its gate and up): the same results as {@link #matmul} on each, computed as one parallel job where their
     * formats allow (all with a decode layout, or all float of one dtype), so that small matrices do not each pay a job's
     * start and ragged end.
     */
    public static void matvecShared(WeightMatrix[] ws, float[] x, float[][] outs) {
        if (ws.length != outs.length) {
            throw new IllegalArgumentException("matvecShared: " + ws.length + " matrices, " + outs.length + " outputs");
        }
        boolean interleaved = true;
        boolean floats = true;
        for (int i = 0; i < ws.length; i++) {
            WeightMatrix w = ws[i];
            if (w.cols() > x.length || w.rows() > outs[i].length) {
                throw new IllegalArgumentException("matmul: arrays too short for one token of " + w.name());
            }
            boolean sameShape = w.cols() == ws[0].cols() && w.rows() > 0 && w.cols() > 0;
            interleaved &= sameShape && InterleavedMatVec.supports(w);
            floats &= sameShape && w.format() == ws[0].format() && w.asFloatTensor() != null;
        }
        if (ws.length > 1 && interleaved) {
            InterleavedMatVec.runShared(ws, x, outs);
        } else if (ws.length > 1 && floats) {
            floatsDecode(ws, x, outs);
        } else {
            for (int i = 0; i < ws.length; i++) {
                matmul(ws[i], x, 1, outs[i]);
            }
        }
    }

    /**
     * Decode products of float matrices of one dtype and equal cols (one, or the matrices of {@link #matvecShared}):
     * every matrix's row chunks in one job, each read from its {@link FloatDecodeCopy} (row-major or in panels).
     */
    private static void floatsDecode(WeightMatrix[] ws, float[] x, float[][] outs) {
        int m = ws.length;
        int cols = ws[0].cols();
        DType dt = ws[0].asFloatTensor().dtype();
        FloatDecodeCopy.Decode[] data = new FloatDecodeCopy.Decode[m];
        int[] chunk = new int[m];
        int[] taskStart = new int[m + 1];
        for (int i = 0; i < m; i++) {
            data[i] = FloatDecodeCopy.of(ws[i]);
            chunk[i] = matvecChunk(ws[i].rows());
            taskStart[i + 1] = taskStart[i] + (ws[i].rows() + chunk[i] - 1) / chunk[i];
        }
        boolean rebiased = false;
        for (FloatDecodeCopy.Decode d : data) {
            rebiased |= d.rebiased();
        }
        float[][] split = decodeSplit(dt, x, cols, rebiased);
        Parallel.forRange(taskStart[m], t -> {
            int i = 0;
            while (taskStart[i + 1] <= t) {
                i++;
            }
            int r0 = (t - taskStart[i]) * chunk[i];
            decodeRows(data[i], dt, ws[i].rows(), cols, x, split, outs[i], r0, Math.min(ws[i].rows(), r0 + chunk[i]));
        });
        java.lang.ref.Reference.reachabilityFence(ws); // each matrix's cleaner frees its decode copy
    }

    /**
     * out[r] = W[r]·x for rows r0..r1 of a float matrix's decode bytes: row by row when row-major, else panel by
     * panel (each row's panel dots summed in panel order).
     */
    private static void decodeRows(FloatDecodeCopy.Decode d, DType dt, int rows, int cols, float[] x, float[][] split,
                                   float[] out, int r0, int r1) {
        MemorySegment w = d.data();
        int panel = d.panelCols();
        if (dt == DType.F16 && !(d.rebiased() && split != null)) {
            f16Converted(d, rows, cols, x, out, r0, r1);
            return;
        }
        if (panel == cols && dt != DType.F16) {
            if (dt == DType.F32) {
                f32Rows(w, cols, x, out, r0, r1);
            } else {
                bf16Rows(w, cols, x, split[0], split[1], out, r0, r1);
            }
            return;
        }
        long size = dt.byteSize();
        for (int c0 = 0; c0 < cols; c0 += panel) {
            int width = Math.min(panel, cols - c0);
            long base = (long) rows * c0 * size;
            int r = r0;
            if (FOUR_ROWS) {
                float[] dots = FOUR_DOTS.get();
                for (; r + 4 <= r1; r += 4) {
                    long o = base + r * width * size;
                    switch (dt) {
                        case F32 -> FloatRowsFour.f32(w, o, width * size, x, c0, width, dots, 0);
                        case BF16 -> FloatRowsFour.bf16(w, o, width * size, x, c0, split[0], split[1], c0 >>> 1, width,
                                dots, 0);
                        default -> FloatRowsFour.f16(w, o, width * size, x, c0, split[0], split[1], c0 >>> 1, width,
                                dots, 0);
                    }
                    for (int i = 0; i < 4; i++) {
                        out[r + i] = c0 == 0 ? dots[i] : out[r + i] + dots[i];
                    }
                }
            }
            for (; r < r1; r++) {
                long o = base + r * width * size;
                float dot = switch (dt) {
                    case F32 -> f32Dot1(w, o, x, c0, width);
                    case BF16 -> bf16Dot1(w, o, x, c0, split[0], split[1], c0 >>> 1, width);
                    default -> f16Dot1(w, o, x, c0, split[0], split[1], c0 >>> 1, width);
                };
                out[r] = c0 == 0 ? dot : out[r] + dot;
            }
        }
    }

    /**
     * out[t*rows + r] = sum_c W[r,c] * x[t*cols + c] for t in [0,n). W: weight [rows, cols] in F32, BF16
     * or F16. Uses all threads of {@link Parallel}.
     */
    public static void matmul(Tensor weight, float[] x, int n, float[] out) {
        DType dt = weight.dtype();
        if (dt != DType.F32 && dt != DType.BF16 && dt != DType.F16) {
            throw new IllegalArgumentException("matmul: tensor " + weight.name() + " has unsupported dtype " + dt
                    + " (F32, BF16 or F16 only)");
        }
        if (weight.rank() != 2) {
            throw new IllegalArgumentException("matmul: tensor " + weight.name() + " must be 2-D [rows, cols], is "
                    + weight);
        }
        long rowsL = weight.dim(0);
        long colsL = weight.dim(1);
        if (rowsL > Integer.MAX_VALUE || colsL > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("matmul: tensor " + weight.name() + " is too large: " + weight);
        }
        int rows = (int) rowsL;
        int cols = (int) colsL;
        if (n < 0) {
            throw new IllegalArgumentException("matmul: n = " + n + " < 0");
        }
        if ((long) n * cols > x.length) {
            throw new IllegalArgumentException("matmul: x has " + x.length + " floats, need n*cols = "
                    + (long) n * cols + " for " + weight);
        }
        if ((long) n * rows > out.length) {
            throw new IllegalArgumentException("matmul: out has " + out.length + " floats, need n*rows = "
                    + (long) n * rows + " for " + weight);
        }
        if (weight.data().byteSize() < rowsL * colsL * dt.byteSize()) {
            throw new IllegalArgumentException("matmul: tensor " + weight.name() + " holds " + weight.data().byteSize()
                    + " bytes, fewer than its shape needs");
        }
        if (n == 0 || rows == 0) {
            return;
        }
        if (cols == 0) {
            java.util.Arrays.fill(out, 0, n * rows, 0f);
            return;
        }
        if (n == 1) {
            matvec(weight.data(), dt, rows, cols, x, out);
            return;
        }
        NativeMatMul.Input input = dt == DType.BF16 ? NativeMatMul.Input.BF16 : NativeMatMul.Input.F32;
        if (dt != DType.F16 && OneDnnGemm.takes(n) && OneDnnGemm.floats(input, weight.data(), rows, cols, x, n, out)) {
            return;
        }
        if (n < gemmMinN(dt)) {
            SmallBatch.run(weight.data(), dt, rows, cols, x, n, out);
        } else {
            Gemm.run(weight.data(), dt, rows, cols, x, n, out);
        }
    }

    // ------------------------------------------------------------------------------------------------
    // Decode: matrix-vector.

    /** Per calling thread: the even/odd split of x for BF16/F16 matvec (shared read-only with workers). */
    private static final ThreadLocal<float[][]> SPLIT_X = ThreadLocal.withInitial(() -> new float[2][0]);

    private static void matvec(MemorySegment w, DType dt, int rows, int cols, float[] x, float[] out) {
        int chunk = matvecChunk(rows);
        float[][] split = decodeSplit(dt, x, cols, false);
        FloatDecodeCopy.Decode rowMajor = new FloatDecodeCopy.Decode(w, cols);
        Parallel.forRange((rows + chunk - 1) / chunk, t -> decodeRows(rowMajor, dt, rows, cols, x, split, out, t * chunk,
                Math.min(rows, t * chunk + chunk)));
    }

    /** Rows per decode task: ~8 tasks per thread, a multiple of 4 rows. */
    private static int matvecChunk(int rows) {
        int threads = Parallel.threads();
        return Math.max(MATVEC_CHUNK_MIN, ((rows + threads * 8 - 1) / (threads * 8) + 3) & ~3);
    }

    /**
     * What the decode kernels of dt take besides x: for BF16 x's even and odd elements; for F16, where some matrix is
     * {@link F16Rebiased} for its kernel ({@link #f16Dot1}), the same times {@link F16Rebiased#X_SCALE}, or null where
     * an element of x is too large for that (or not a number) and the F16 rows are converted instead; else nothing.
     */
    private static float[][] decodeSplit(DType dt, float[] x, int cols, boolean rebiased) {
        return switch (dt) {
            case BF16 -> splitEvenOdd(x, cols);
            case F16 -> rebiased ? splitEvenOddScaled(x, cols) : null;
            default -> null;
        };
    }

    /**
     * x's even and odd elements times {@link F16Rebiased#X_SCALE}, or null where some |x| is at or above {@link
     * F16Rebiased#X_LIMIT} or NaN.
     */
    static float[][] splitEvenOddScaled(float[] x, int cols) {
        for (int c = 0; c < cols; c++) {
            if (!(Math.abs(x[c]) < F16Rebiased.X_LIMIT)) {
                return null;
            }
        }
        float[][] split = splitEvenOdd(x, cols);
        int pairs = cols >>> 1;
        for (int p = 0; p < pairs; p++) {
            split[0][p] *= F16Rebiased.X_SCALE;
            split[1][p] *= F16Rebiased.X_SCALE;
        }
        return split;
    }

    /** x's even and odd elements (the first cols), in this thread's {@link #SPLIT_X} arrays. */
    static float[][] splitEvenOdd(float[] x, int cols) {
        float[][] split = SPLIT_X.get();
        int pairs = cols >>> 1;
        if (split[0].length < pairs) {
            split[0] = new float[pairs];
            split[1] = new float[pairs];
        }
        for (int p = 0; p < pairs; p++) {
            split[0][p] = x[2 * p];
            split[1][p] = x[2 * p + 1];
        }
        return split;
    }

    // One row at a time on AMD: streaming rows one after another from memory measured ~25% faster (2 threads,
    // Zen 4: ~39 vs ~31 GB/s) than interleaving four rows per pass, for F32 and BF16 alike. Four rows at a time
    // where DecodeStreams says so (Intel), each row's floats the same.
    static final boolean FOUR_ROWS = dev.qforge.kernel.blocks.DecodeStreams.GROUPS == 4;
    private static final ThreadLocal<float[]> FOUR_DOTS = ThreadLocal.withInitial(() -> new float[4]);

    private static void f32Rows(MemorySegment w, int cols, float[] x, float[] out, int r0, int r1) {
        long rowBytes = (long) cols * 4;
        int r = r0;
        if (FOUR_ROWS) {
            for (; r + 4 <= r1; r += 4) {
                FloatRowsFour.f32(w, r * rowBytes, rowBytes, x, 0, cols, out, r);
            }
        }
        for (; r < r1; r++) {
            out[r] = f32Dot1(w, r * rowBytes, x, 0, cols);
        }
    }

    /** One row (at byte o0) times x[xOff, xOff+cols). */
    static float f32Dot1(MemorySegment w, long o0, float[] x, int xOff, int cols) {
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = FloatVector.zero(FS);
        int c = 0;
        for (; c + 2 * L <= cols; c += 2 * L) {
            a0 = FloatVector.fromMemorySegment(FS, w, o0 + (long) c * 4, LE)
                    .fma(FloatVector.fromArray(FS, x, xOff + c), a0);
            a1 = FloatVector.fromMemorySegment(FS, w, o0 + (long) (c + L) * 4, LE)
                    .fma(FloatVector.fromArray(FS, x, xOff + c + L), a1);
        }
        if (c + L <= cols) {
            a0 = FloatVector.fromMemorySegment(FS, w, o0 + (long) c * 4, LE)
                    .fma(FloatVector.fromArray(FS, x, xOff + c), a0);
            c += L;
        }
        float s0 = Lanes.sum(a0.add(a1));
        for (; c < cols; c++) {
            s0 += w.get(Tensor.F32, o0 + (long) c * 4) * x[xOff + c];
        }
        return s0;
    }

    private static void bf16Rows(MemorySegment w, int cols, float[] x, float[] xe, float[] xo, float[] out, int r0, int r1) {
        long rowBytes = (long) cols * 2;
        int r = r0;
        if (FOUR_ROWS) {
            for (; r + 4 <= r1; r += 4) {
                FloatRowsFour.bf16(w, r * rowBytes, rowBytes, x, 0, xe, xo, 0, cols, out, r);
            }
        }
        for (; r < r1; r++) {
            out[r] = bf16Dot1(w, r * rowBytes, x, 0, xe, xo, 0, cols);
        }
    }

    static final int HI_MASK = 0xFFFF0000;

    /**
     * One row times x[xOff, xOff+cols), whose even/odd elements are xe/xo[xsOff, xsOff+cols/2). Four accumulators, two
     * vectors of pairs per step: with two, each FMA waited for the one before it in its chain (4 cycles) and the kernel
     * ran at half the rate its ports allow, which a decode stream from memory paid for in full (the core's compute
     * and its memory stalls add up rather than overlap).
     */
    static float bf16Dot1(MemorySegment w, long o0, float[] x, int xOff, float[] xe, float[] xo, int xsOff, int cols) {
        FloatVector e0 = FloatVector.zero(FS), d0 = FloatVector.zero(FS);
        FloatVector e1 = FloatVector.zero(FS), d1 = FloatVector.zero(FS);
        int pairs = cols >>> 1;
        int bound = IS.loopBound(pairs);
        int p = 0;
        for (; p + 2 * L <= bound; p += 2 * L) {
            IntVector v = IntVector.fromMemorySegment(IS, w, o0 + (long) p * 4, LE);
            IntVector u = IntVector.fromMemorySegment(IS, w, o0 + (long) (p + L) * 4, LE);
            e0 = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(FS, xe, xsOff + p), e0);
            d0 = v.and(HI_MASK).reinterpretAsFloats().fma(FloatVector.fromArray(FS, xo, xsOff + p), d0);
            e1 = u.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(FS, xe, xsOff + p + L), e1);
            d1 = u.and(HI_MASK).reinterpretAsFloats().fma(FloatVector.fromArray(FS, xo, xsOff + p + L), d1);
        }
        if (p < bound) {
            IntVector v = IntVector.fromMemorySegment(IS, w, o0 + (long) p * 4, LE);
            e0 = v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(FS, xe, xsOff + p), e0);
            d0 = v.and(HI_MASK).reinterpretAsFloats().fma(FloatVector.fromArray(FS, xo, xsOff + p), d0);
        }
        float s0 = Lanes.sum(e0.add(d0).add(e1.add(d1)));
        for (int c = 2 * bound; c < cols; c++) {
            s0 += FloatBits.bf16ToFloat(w.get(Tensor.I16, o0 + (long) c * 2)) * x[xOff + c];
        }
        return s0;
    }

    /**
     * One row of {@link F16Rebiased} weights times x[xOff, xOff+cols), whose even/odd elements times {@link
     * F16Rebiased#X_SCALE} are xe/xo[xsOff ..): the F16 decode where {@link #FOUR_ROWS} (with {@link
     * FloatRowsFour#f16}). Each int lane holds two values; the odd one's bits, shifted right by 3 as a signed int and
     * masked ({@link F16Rebiased#FLOAT_BITS}), read as a float equal to the value over X_SCALE, exactly; the even
     * one's the same after a shift left by 16. Times x·X_SCALE (exact: a power of two, below overflow) an FMA rounds
     * exactly what it rounds for the converted weight times x, so a row's floats are those of the weights converted
     * first, in this kernel's order. Three shifts, two masks and two FMAs per 32 weights, from the bytes as they
     * stream: converting rows into a buffer first ({@link #f16Converted}) read the 1B model's F16 matrices at ~60 % of
     * the read probe on an Intel Xeon, one stream per thread (8.5 tok/s against llama.cpp's 12.3; this kernel
     * 11.6-13.1). The values are re-encoded because F16 subnormals read as float bits would be float subnormals,
     * which an Intel FMA takes a microcode assist for (the kernel ran at a third of its speed on σ 0.02 weights).
     */
    static float f16Dot1(MemorySegment w, long o0, float[] x, int xOff, float[] xe, float[] xo, int xsOff, int cols) {
        FloatVector e0 = FloatVector.zero(FS), d0 = FloatVector.zero(FS);
        FloatVector e1 = FloatVector.zero(FS), d1 = FloatVector.zero(FS);
        int pairs = cols >>> 1;
        int bound = IS.loopBound(pairs);
        int p = 0;
        for (; p + 2 * L <= bound; p += 2 * L) {
            IntVector v = IntVector.fromMemorySegment(IS, w, o0 + (long) p * 4, LE);
            IntVector u = IntVector.fromMemorySegment(IS, w, o0 + (long) (p + L) * 4, LE);
            e0 = v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(F16Rebiased.FLOAT_BITS)
                    .reinterpretAsFloats().fma(FloatVector.fromArray(FS, xe, xsOff + p), e0);
            d0 = v.lanewise(VectorOperators.ASHR, 3).and(F16Rebiased.FLOAT_BITS).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(FS, xo, xsOff + p), d0);
            e1 = u.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(F16Rebiased.FLOAT_BITS)
                    .reinterpretAsFloats().fma(FloatVector.fromArray(FS, xe, xsOff + p + L), e1);
            d1 = u.lanewise(VectorOperators.ASHR, 3).and(F16Rebiased.FLOAT_BITS).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(FS, xo, xsOff + p + L), d1);
        }
        if (p < bound) {
            IntVector v = IntVector.fromMemorySegment(IS, w, o0 + (long) p * 4, LE);
            e0 = v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(F16Rebiased.FLOAT_BITS)
                    .reinterpretAsFloats().fma(FloatVector.fromArray(FS, xe, xsOff + p), e0);
            d0 = v.lanewise(VectorOperators.ASHR, 3).and(F16Rebiased.FLOAT_BITS).reinterpretAsFloats()
                    .fma(FloatVector.fromArray(FS, xo, xsOff + p), d0);
        }
        float s0 = Lanes.sum(e0.add(d0).add(e1.add(d1)));
        for (int c = 2 * bound; c < cols; c++) {
            s0 += F16Rebiased.toFloat(w.get(Tensor.I16, o0 + (long) c * 2)) * x[xOff + c];
        }
        return s0;
    }

    // F16 elsewhere (AMD, where this measured near the read probe; matrices that are read in place or cannot be
    // re-encoded; x too large for the scaling above): converted a panel row at a time into a thread-local F32 buffer
    // (see f16ToF32), then an F32 dot product from arrays. Vector-API bit manipulation inside the dot product was
    // measured on Zen 4 too: as fast when C2 compiled it well, but fragile: the conversion helpers passed C2's
    // inlining limits in larger kernels, and after a recompilation the kernel ran ~30x slower with boxed vectors.

    /** Per thread: F32 copies of F16 weight rows. */
    private static final ThreadLocal<float[][]> ROW_BUF = ThreadLocal.withInitial(() -> new float[1][0]);

    /** A thread-local buffer of at least {@code size} floats (contents undefined). */
    static float[] rowBuffer(int size) {
        float[][] holder = ROW_BUF.get();
        if (holder[0].length < size) {
            holder[0] = new float[size];
        }
        return holder[0];
    }

    /**
     * out[r] = W[r]·x for rows r0..r1 of F16 decode bytes (row-major or in panels; {@link F16Rebiased} ones only where
     * x is too large for their kernel), each panel row converted first.
     */
    private static void f16Converted(FloatDecodeCopy.Decode d, int rows, int cols, float[] x, float[] out, int r0,
                                     int r1) {
        int panel = d.panelCols();
        float[] buf = rowBuffer(panel);
        for (int c0 = 0; c0 < cols; c0 += panel) {
            int width = Math.min(panel, cols - c0);
            long base = (long) rows * c0 * 2;
            for (int r = r0; r < r1; r++) {
                long o = base + (long) r * width * 2;
                if (d.rebiased()) {
                    for (int c = 0; c < width; c++) {
                        buf[c] = F16Rebiased.toFloat(d.data().get(Tensor.I16, o + 2L * c));
                    }
                } else {
                    f16ToF32(d.data(), o, width, buf, 0);
                }
                float dot = dot(buf, 0, x, c0, width);
                out[r] = c0 == 0 ? dot : out[r] + dot;
            }
        }
    }

    /** sum a[ao + i] * b[bo + i] for i in [0, len). */
    static float dot(float[] a, int ao, float[] b, int bo, int len) {
        FloatVector s0 = FloatVector.zero(FS);
        FloatVector s1 = FloatVector.zero(FS);
        FloatVector s2 = FloatVector.zero(FS);
        FloatVector s3 = FloatVector.zero(FS);
        int i = 0;
        for (; i + 4 * L <= len; i += 4 * L) {
            s0 = FloatVector.fromArray(FS, a, ao + i).fma(FloatVector.fromArray(FS, b, bo + i), s0);
            s1 = FloatVector.fromArray(FS, a, ao + i + L).fma(FloatVector.fromArray(FS, b, bo + i + L), s1);
            s2 = FloatVector.fromArray(FS, a, ao + i + 2 * L).fma(FloatVector.fromArray(FS, b, bo + i + 2 * L), s2);
            s3 = FloatVector.fromArray(FS, a, ao + i + 3 * L).fma(FloatVector.fromArray(FS, b, bo + i + 3 * L), s3);
        }
        for (; i + L <= len; i += L) {
            s0 = FloatVector.fromArray(FS, a, ao + i).fma(FloatVector.fromArray(FS, b, bo + i), s0);
        }
        float s = Lanes.sum(s0.add(s1).add(s2.add(s3)));
        for (; i < len; i++) {
            s += a[ao + i] * b[bo + i];
        }
        return s;
    }

    // ------------------------------------------------------------------------------------------------
    // Conversion of weight rows to F32 (used by the GEMM).

    /** dst[dstOff + i] = W element at byte offset {@code byteOff} + i*size, for i in [0, count). */
    static void rowToF32(MemorySegment w, DType dt, long byteOff, int count, float[] dst, int dstOff) {
        switch (dt) {
            case F32 -> f32ToF32(w, byteOff, count, dst, dstOff);
            case BF16 -> bf16ToF32(w, byteOff, count, dst, dstOff);
            case F16 -> f16ToF32(w, byteOff, count, dst, dstOff);
            default -> throw new IllegalArgumentException(dt.toString());
        }
    }

    private static void f32ToF32(MemorySegment w, long byteOff, int count, float[] dst, int dstOff) {
        // A bulk copy: faster than vector loads when the weights are not 64-byte aligned (split loads).
        MemorySegment.copy(w, Tensor.F32, byteOff, dst, dstOff, count);
    }

    private static void bf16ToF32(MemorySegment w, long byteOff, int count, float[] dst, int dstOff) {
        int bound = FS.loopBound(count);
        int i = 0;
        for (; i < bound; i += L) {
            ShortVector s = ShortVector.fromMemorySegment(SS, w, byteOff + (long) i * 2, LE);
            IntVector v = (IntVector) s.convertShape(VectorOperators.S2I, IS, 0);
            v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        for (; i < count; i++) {
            dst[dstOff + i] = FloatBits.bf16ToFloat(w.get(Tensor.I16, byteOff + (long) i * 2));
        }
    }

    /**
     * F16 to F32 with {@link Float#float16ToFloat} in a plain counted loop, which C2 auto-vectorizes to the
     * hardware conversion (vcvtph2ps): ~24 G elements/s on one Zen 4 thread, over twice the Vector-API
     * bit manipulation. Keep this loop this simple, or it stops being vectorized.
     */
    static void f16ToF32(MemorySegment w, long byteOff, int count, float[] dst, int dstOff) {
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = Float.float16ToFloat(w.get(Tensor.I16, byteOff + 2L * i));
        }
    }
}
