package dev.qforge.quant.gptq;

import dev.qforge.kernel.RankUpdate;

/**
 * GPTQ's proxy Hessian of one linear layer's input: H = Σ x xᵀ over the calibration tokens (the reference
 * code's 2/n factor is left out: GPTQ's result does not depend on H's scale, and damping is relative to its
 * mean diagonal). Linears that read the same input (q, k, v; gate, up) share one. The sum is the upper
 * triangle of each batch's Gram matrix ({@link RankUpdate#addUpperGram}), on all threads.
 */
public final class Hessian {
    private final int cols;
    private float[] sum;
    /** The diagonal of the sum, kept when the sum itself is consumed by {@link #factor}. */
    private float[] diagonal;
    private Factor factor;
    /**
     * The sum as it was, kept (for widths up to {@link #SPARE_COLS}) when a lattice format's factor consumed it, so
     * that the matrices sharing its input (an act-order K-quant beside a lattice q in llama.cpp's mixes) can still
     * have theirs; and that second factor once made. Kept for lattices only: a copy of every Hessian would double
     * the calibration loop's largest arrays.
     */
    private float[] spare;
    private Factor other;
    private static final int SPARE_COLS = 4096;
    private long tokens;
    /** Whether the lower triangle lags the upper one, which is all {@link #add} sums. */
    private boolean lowerStale;
    /** Σ |x| per column: AWQ's activation magnitudes, which the squares of H do not give. */
    private final double[] absSum;

    public Hessian(int cols) {
        this.cols = cols;
        this.sum = new float[Math.multiplyExact(cols, cols)];
        this.absSum = new double[cols];
    }

    public int cols() {
        return cols;
    }

    /** Tokens added so far. */
    public long tokens() {
        return tokens;
    }

    /** Adds {@code rows} inputs of {@code cols} floats each, row after row, from x[0 ..]. */
    public synchronized void add(float[] x, int rows) {
        if (rows == 0) {
            return;
        }
        long t0 = System.nanoTime();
        float[] h = unconsumed();
        for (int t = 0; t < rows; t++) {
            for (int c = 0; c < cols; c++) {
                absSum[c] += Math.abs(x[t * cols + c]);
            }
        }
        // H is symmetric: only its upper triangle is summed, and mirrored once when the sum is read
        RankUpdate.addUpperGram(h, cols, x, rows);
        lowerStale = true;
        tokens += rows;
        GptqWork.TOTAL.hessian(System.nanoTime() - t0, rows, cols);
    }

    /** The accumulated Σ x xᵀ, [cols × cols], row-major (the array itself); gone once {@link #factor} consumed it. */
    public synchronized float[] sum() {
        unconsumed();
        if (lowerStale) {
            // in 64 × 64 tiles, so that the column reads stay in the cache
            for (int i0 = 0; i0 < cols; i0 += 64) {
                for (int j0 = 0; j0 <= i0; j0 += 64) {
                    for (int i = i0; i < Math.min(i0 + 64, cols); i++) {
                        for (int j = j0; j < Math.min(j0 + 64, i); j++) {
                            sum[i * cols + j] = sum[j * cols + i];
                        }
                    }
                }
            }
            lowerStale = false;
        }
        return sum;
    }

    private float[] unconsumed() {
        if (sum == null) {
            throw new IllegalStateException("the Hessian was consumed by its factorization");
        }
        return sum;
    }

    /** Mean x² per input column: the diagonal over the token count, what llama.cpp's imatrix holds. */
    public float[] meanSquares() {
        float[] d = new float[cols];
        for (int i = 0; i < cols; i++) {
            float s = sum != null ? sum[i * cols + i] : diagonal[i];
            d[i] = tokens == 0 ? 0 : (float) (s / tokens);
        }
        return d;
    }

    /** Mean |x| per input column: the activation magnitudes AWQ's scales are powers of. */
    public float[] meanAbs() {
        float[] m = new float[cols];
        for (int i = 0; i < cols; i++) {
            m[i] = tokens == 0 ? 0 : (float) (absSum[i] / tokens);
        }
        return m;
    }

    /**
     * What GPTQ needs of this Hessian, computed once for all the linears that share it (q, k, v): the
     * inverse factor U of the damped Hessian, the columns no token fed, the importance and the damping used.
     * The sum is consumed to save memory (it becomes U, in place); a copy is kept only for the rare retry
     * with more damping, in the heap for widths up to 4096 and in a temporary file above.
     *
     * <p>With {@code actOrder} the factor is of H with rows and columns in decreasing order of its diagonal
     * ({@link Factor#order}), GPTQ's act-order.
     */
    public synchronized Factor factor(double dampFraction, int dampRaises, boolean actOrder, String name,
                                      java.util.function.Consumer<String> warnings) {
        if (matches(factor, dampFraction, actOrder)) {
            return factor;
        }
        if (matches(other, dampFraction, actOrder)) {
            return other;
        }
        // a spare is there only where a lattice made the first factor: its order was a preference, not a setting
        if (factor != null && canMakeOther(dampFraction)) {
            return makeOther(dampFraction, dampRaises, actOrder, name, warnings);
        }
        if (factor != null) {
            throw new dev.qforge.QforgeException(name + ": reads the same input as a matrix quantized with damping "
                    + factor.requestedFraction + (factor.order != null ? " and act-order" : "") + ", not " + dampFraction
                    + (actOrder ? " and act-order" : "") + "; give linears that share an input (q/k/v, gate/up) the same GPTQ settings");
        }
        return first(dampFraction, dampRaises, actOrder, false, name, warnings);
    }

    /** The first factor, consuming the sum (a spare copy of it kept for a lattice's, where the width allows). */
    private Factor first(double dampFraction, int dampRaises, boolean actOrder, boolean lattice, String name,
                         java.util.function.Consumer<String> warnings) {
        float[] h = sum();
        if (lattice && cols <= SPARE_COLS) {
            spare = h.clone();
        }
        factor = compute(h, dampFraction, dampRaises, actOrder, name, warnings);
        sum = null;
        return factor;
    }

    /**
     * The factor for a lattice format (IQ1_S … IQ3_S), which gains from GPTQ's feedback only from left to right:
     * that order where it is the first on this input (or a lattice's already is) and the input is at most
     * {@link #SPARE_COLS} wide, else the order the other matrices on this input use.
     */
    public synchronized Factor latticeFactor(double dampFraction, int dampRaises, boolean actOrder, String name,
                                             java.util.function.Consumer<String> warnings) {
        if (factor == null) {
            // wider inputs keep no spare, so there the lattice takes the order the others on this input will ask for
            return first(dampFraction, dampRaises, cols > SPARE_COLS && actOrder, true, name, warnings);
        }
        boolean leftToRight = matches(factor, dampFraction, false) || matches(other, dampFraction, false)
                || canMakeOther(dampFraction);
        return factor(dampFraction, dampRaises, !leftToRight && factor.order != null, name, warnings);
    }

    private boolean canMakeOther(double dampFraction) {
        return spare != null && other == null && factor.requestedFraction == dampFraction;
    }

    private Factor makeOther(double dampFraction, int dampRaises, boolean actOrder, String name,
                             java.util.function.Consumer<String> warnings) {
        float[] h = spare;
        spare = null;
        other = compute(h, dampFraction, dampRaises, actOrder, name, warnings);
        return other;
    }

    private static boolean matches(Factor f, double dampFraction, boolean actOrder) {
        return f != null && f.requestedFraction == dampFraction && (f.order != null) == actOrder;
    }

    /** The factor of h (the sum, consumed), with the columns in the requested order. */
    private Factor compute(float[] h, double dampFraction, int dampRaises, boolean actOrder, String name,
                           java.util.function.Consumer<String> warnings) {
        float[] importance = meanSquares();
        boolean[] dead = new boolean[cols];
        double meanDiag = 0;
        for (int i = 0; i < cols; i++) {
            if (h[i * cols + i] == 0) {
                // A column no calibration token ever fed: its weights cannot matter, GPTQ zeroes them.
                dead[i] = true;
                h[i * cols + i] = 1;
            }
            meanDiag += h[i * cols + i];
        }
        meanDiag /= cols;
        diagonal = new float[cols];
        for (int i = 0; i < cols; i++) {
            diagonal[i] = dead[i] ? 0 : h[i * cols + i];
        }
        int[] order = actOrder ? decreasingDiagonal(h, cols) : null;
        if (order != null) {
            permute(h, cols, order);
        }
        double fraction = dampFraction;
        float[] u = null;
        try (Backup backup = new Backup(h, cols)) {
            for (int attempt = 0; ; attempt++) {
                float[] work = attempt == 0 ? h : backup.restore();
                long t0 = System.nanoTime();
                u = InverseCholesky.ofConsuming(work, cols, fraction * meanDiag) ? work : null;
                GptqWork.TOTAL.factor(System.nanoTime() - t0, cols);
                if (u != null || attempt == dampRaises) {
                    break;
                }
                warnings.accept(name + ": Hessian + " + fraction + "·mean(diag) is not positive definite; damping raised to "
                        + fraction * 10);
                fraction *= 10;
            }
        }
        if (u == null) {
            throw new dev.qforge.QforgeException(name + ": the Hessian stays singular with damping " + fraction
                    + "·mean(diag); the calibration inputs may be degenerate (too few tokens?)");
        }
        return new Factor(u, order, dead, importance, fraction * meanDiag, fraction, dampFraction);
    }

    /** The columns by decreasing diagonal (ties: by index, so the order is the same on every run). */
    private static int[] decreasingDiagonal(float[] h, int n) {
        Integer[] idx = new Integer[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        java.util.Arrays.sort(idx, (a, b) -> {
            int c = Float.compare(h[b * n + b], h[a * n + a]);
            return c != 0 ? c : Integer.compare(a, b);
        });
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = idx[i];
        }
        return order;
    }

    /** h ← P·h·Pᵀ in place: row and column i become the old order[i] (one spare row, cycles of rows). */
    private static void permute(float[] h, int n, int[] order) {
        float[] spare = new float[n];
        boolean[] placed = new boolean[n];
        for (int start = 0; start < n; start++) {
            if (placed[start] || order[start] == start) {
                continue;
            }
            System.arraycopy(h, start * n, spare, 0, n);
            int i = start;
            while (true) {
                placed[i] = true;
                int from = order[i];
                if (from == start) {
                    System.arraycopy(spare, 0, h, i * n, n);
                    break;
                }
                System.arraycopy(h, from * n, h, i * n, n);
                i = from;
            }
        }
        for (int r = 0; r < n; r++) {
            System.arraycopy(h, r * n, spare, 0, n);
            for (int c = 0; c < n; c++) {
                h[r * n + c] = spare[order[c]];
            }
        }
    }

    /**
     * GPTQ's view of a Hessian: U with (H + λI)⁻¹ = UᵀU (of the permuted H when {@code order} is not null:
     * row/column p of U is original column order[p]), the dead columns, mean squares as importance.
     */
    public record Factor(float[] u, int[] order, boolean[] dead, float[] importance, double lambda, double dampFraction,
                         double requestedFraction) {
    }

    /**
     * A copy of H for a retry with more damping: in the heap for widths up to 4096; above, in a temporary
     * file read back mapped, so that the copy takes page cache, not the heap the factorization needs.
     */
    private static final class Backup implements AutoCloseable {
        private final float[] exact;
        private final java.nio.file.Path file;

        Backup(float[] h, int cols) {
            if (cols <= 4096) {
                exact = h.clone();
                file = null;
                return;
            }
            exact = null;
            try {
                file = java.nio.file.Files.createTempFile("qforge-hessian-", ".f32");
                dev.qforge.format.PartialFiles.track(file);
                try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                        java.nio.file.StandardOpenOption.WRITE)) {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1 << 20).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    for (int i = 0; i < h.length; ) {
                        b.clear();
                        while (b.remaining() >= 4 && i < h.length) {
                            b.putFloat(h[i++]);
                        }
                        b.flip();
                        while (b.hasRemaining()) {
                            ch.write(b);
                        }
                    }
                }
            } catch (java.io.IOException e) {
                throw new dev.qforge.QforgeException("cannot write a temporary copy of a Hessian: " + e.getMessage(), e);
            }
        }

        float[] restore() {
            if (exact != null) {
                return exact.clone();
            }
            try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined();
                 java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.READ)) {
                java.lang.foreign.MemorySegment m = ch.map(java.nio.channels.FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
                float[] h = new float[Math.toIntExact(ch.size() / 4)];
                java.lang.foreign.MemorySegment.copy(m, dev.qforge.numeric.LittleEndian.F32, 0, h, 0, h.length);
                return h;
            } catch (java.io.IOException e) {
                throw new dev.qforge.QforgeException(file + ": cannot read the temporary copy of a Hessian: " + e.getMessage(), e);
            }
        }

        @Override
        public void close() {
            if (file != null) {
                dev.qforge.format.PartialFiles.deleteTree(file);
                dev.qforge.format.PartialFiles.end(file);
            }
        }
    }
}
