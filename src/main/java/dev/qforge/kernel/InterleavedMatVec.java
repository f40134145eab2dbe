package dev.qforge.kernel;

import dev.qforge.kernel.blocks.InterleavedLayout;
import dev.qforge.kernel.blocks.QuantizedInput;
import dev.qforge.tensor.WeightMatrix;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Decode (one token) for the block formats that have an {@link InterleavedLayout}: the first time a
 * matrix meets a single token its rows are repacked into the layout (in parallel, ~1 s per GB), and
 * from then on each product quantizes x to int8 once and runs the layout's kernel over the groups of
 * 32 rows on all threads. Each group is computed whole by one thread, in a fixed order, so results do not
 * depend on the scheduling.
 *
 * <p>The packed copy is kept by the matrix object ({@link WeightMatrix#decodeLayout}) and replaces nothing: the
 * format's own bytes, usually a mapped file, still serve prefill, row lookups and export. So a model
 * that decodes holds its quantized weights twice (once in the page cache, once packed); a model that
 * only prefills (perplexity, KL divergence) never packs.
 */
final class InterleavedMatVec {
    /** The layouts' kernels are written for 512-bit vectors (32 short lanes); narrower ones would run them emulated. */
    private static final boolean WIDE_VECTORS = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512;
    /** Per calling thread: the inputs of {@link #runShared}, one per distinct layout among its matrices. */
    private static final ThreadLocal<QuantizedInput[]> SHARED_INPUTS = ThreadLocal.withInitial(() -> new QuantizedInput[0]);

    private InterleavedMatVec() {
    }

    /**
     * Whether w decodes through its format's layout: 512-bit vectors, a layout, whole blocks of columns, and a matrix
     * the layout {@link InterleavedLayout#holds} (asked when w is first packed, and kept with it).
     */
    static boolean supports(WeightMatrix w) {
        InterleavedLayout layout = w.format().interleavedLayout();
        return WIDE_VECTORS && layout != null && w.cols() % QuantizedInput.BLOCK == 0
                && packed(w, layout) != MemorySegment.NULL;
    }

    static void run(WeightMatrix w, float[] x, float[] out) {
        runShared(new WeightMatrix[] {w}, x, new float[][] {out});
    }

    /**
     * outs[i] = ws[i]·x for matrices (one or more) that all {@link #supports} and share cols: one parallel job over
     * all their groups instead of one per matrix, in runs of whole steps of the groups each layout takes at once, so
     * that few groups take the slower single path. A step's q, k and v projections (or gate and up) are small matrices whose
     * products each paid a job's start and its ragged end; as one job they stream as one larger matrix. x is
     * quantized once per distinct layout (a layout's {@link InterleavedLayout#prepare} tables are its own), by the
     * job's first tasks, one share of its blocks per thread: quantized by the caller before the job, the other thread
     * waited the whole time (2 µs of a 2048-column product, 8 µs of an 8192-column one, on the Xeon measured), and
     * splitting it made the 1B decode 1.9 % (Q4_0) and 2.3 % (Q8_0) faster in alternated runs.
     */
    static void runShared(WeightMatrix[] ws, float[] x, float[][] outs) {
        int m = ws.length;
        int cols = ws[0].cols();
        InterleavedLayout[] layouts = new InterleavedLayout[m];
        MemorySegment[] packed = new MemorySegment[m];
        QuantizedInput[] inputs = sharedInputs(m);
        QuantizedInput[] q = new QuantizedInput[m];
        long[] strides = new long[m];
        int[] stepStart = new int[m + 1];
        int distinct = 0;
        for (int i = 0; i < m; i++) {
            layouts[i] = ws[i].format().interleavedLayout();
            packed[i] = packed(ws[i], layouts[i]);
            strides[i] = layouts[i].groupStride(cols);
            for (int k = 0; k < i && q[i] == null; k++) {
                if (layouts[k] == layouts[i]) {
                    q[i] = q[k];
                }
            }
            if (q[i] == null) {
                q[i] = inputs[distinct++].resize(cols);
            }
            int step = layouts[i].groupsPerStep();
            stepStart[i + 1] = stepStart[i] + (groups(ws[i].rows()) + step - 1) / step;
        }
        int threads = Parallel.threads();
        int[] pieces = pieces(ws, layouts, stepStart, threads);
        int blocks = cols / QuantizedInput.BLOCK;
        int quantTasks = Math.min(threads, blocks);
        int inputCount = distinct;
        AtomicInteger quantized = new AtomicInteger();
        Parallel.forRange(quantTasks + pieces.length / 3, t -> {
            if (t < quantTasks) {
                try {
                    for (int k = 0; k < inputCount; k++) {
                        inputs[k].setBlocks(x, 0, blocks * t / quantTasks, blocks * (t + 1) / quantTasks);
                    }
                } finally {
                    quantized.incrementAndGet();
                }
                return;
            }
            // the quantizing tasks come first and are all taken before any piece is: a thread here waits only for
            // shares that another thread is computing; it yields after a while in case that thread lost its core
            for (int spins = 0; quantized.get() < quantTasks; spins++) {
                if (spins < 2_000) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
            int p = 3 * (t - quantTasks);
            int i = pieces[p];
            int g0 = pieces[p + 1];
            int g1 = pieces[p + 2];
            layouts[i].prepare(q[i]);
            int rows = ws[i].rows();
            layouts[i].dotGroups(packed[i], g0 * strides[i], strides[i], g1 - g0, cols, q[i], outs[i],
                    g0 * InterleavedLayout.ROWS, Math.min((g1 - g0) * InterleavedLayout.ROWS, rows - g0 * InterleavedLayout.ROWS));
        });
        Reference.reachabilityFence(ws); // each matrix's cleaner frees its packed copy
    }

    /**
     * The job's pieces as (matrix, first group, end group) triples: guided runs over all matrices' steps together, cut
     * where one matrix ends and the next begins.
     */
    private static int[] pieces(WeightMatrix[] ws, InterleavedLayout[] layouts, int[] stepStart, int threads) {
        int m = ws.length;
        int[] bounds = runs(stepStart[m], threads);
        int[] cuts = new int[bounds.length + m];
        int count = 0;
        for (int b = 0, i = 0; b + 1 < bounds.length; b++) {
            cuts[count++] = bounds[b];
            while (stepStart[i + 1] <= bounds[b]) {
                i++;
            }
            while (i + 1 <= m && stepStart[i + 1] < bounds[b + 1]) {
                cuts[count++] = stepStart[++i];
            }
        }
        cuts[count] = stepStart[m];
        int[] out = new int[3 * count];
        int n = 0;
        for (int c = 0, i = 0; c < count; c++) {
            while (stepStart[i + 1] <= cuts[c]) {
                i++;
            }
            int step = layouts[i].groupsPerStep();
            int groups = groups(ws[i].rows());
            out[n++] = i;
            out[n++] = (cuts[c] - stepStart[i]) * step;
            out[n++] = Math.min(groups, (cuts[c + 1] - stepStart[i]) * step);
        }
        return out;
    }

    private static QuantizedInput[] sharedInputs(int m) {
        QuantizedInput[] inputs = SHARED_INPUTS.get();
        if (inputs.length < m) {
            inputs = Arrays.copyOf(inputs, m);
            for (int i = 0; i < m; i++) {
                if (inputs[i] == null) {
                    inputs[i] = new QuantizedInput();
                }
            }
            SHARED_INPUTS.set(inputs);
        }
        return inputs;
    }

    /**
     * Boundaries of contiguous runs of groups, each run a task, the first ones long and then shorter
     * (guided scheduling: a run is what remains over twice the threads). Long runs keep the memory
     * streams long: with single groups of ~36 KB handed out from a shared counter both threads restart
     * their prefetch streams at every group (in noisy A/B runs a few percent slower on the 1B decode, up
     * to 30 % in the matvec benchmark). Short runs at the end keep a thread that finishes early from
     * waiting for the other one; guided runs measured 6 % faster than four equal runs.
     */
    static int[] runs(int groups, int threads) {
        int[] bounds = new int[groups + 1];
        int n = 0;
        for (int start = 0; start < groups; ) {
            start += Math.max(1, (groups - start) / (2 * threads));
            bounds[++n] = start;
        }
        return Arrays.copyOf(bounds, n + 1);
    }

    /**
     * The packed rows of w, packed on first use and kept by w; {@link MemorySegment#NULL} where the layout does not
     * {@link InterleavedLayout#holds hold} w.
     */
    static MemorySegment packed(WeightMatrix w, InterleavedLayout layout) {
        return w.decodeLayout((m, arena) -> pack(m, layout, arena));
    }

    private static MemorySegment pack(WeightMatrix w, InterleavedLayout layout, Arena arena) {
        int cols = w.cols();
        int rows = w.rows();
        long stride = layout.groupStride(cols);
        long rowBytes = w.rowBytes();
        AtomicBoolean held = new AtomicBoolean(true);
        Parallel.forRange(groups(rows), g -> {
            int r0 = g * InterleavedLayout.ROWS;
            if (!layout.holds(w.data(), r0 * rowBytes, rowBytes, Math.min(InterleavedLayout.ROWS, rows - r0), cols)) {
                held.set(false);
            }
        });
        if (!held.get()) {
            return MemorySegment.NULL;
        }
        MemorySegment p = HugePageMemory.allocate(groups(rows) * stride, arena);
        Parallel.forRange(groups(rows), g -> layout.pack(w.data(), g * InterleavedLayout.ROWS * rowBytes, rowBytes,
                Math.min(InterleavedLayout.ROWS, rows - g * InterleavedLayout.ROWS), cols, p, g * stride));
        return p;
    }

    private static int groups(int rows) {
        return (rows + InterleavedLayout.ROWS - 1) / InterleavedLayout.ROWS;
    }
}
