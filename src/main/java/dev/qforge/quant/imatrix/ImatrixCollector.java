package dev.qforge.quant.imatrix;

import dev.qforge.format.GgufTensorNames;
import dev.qforge.format.Imatrix;
import dev.qforge.model.ActivationObserver;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Collects an importance matrix from the inputs of a decoder's linear layers, as llama.cpp's
 * {@code llama-imatrix} does: for each weight matrix, per input column, the sum over all activation rows
 * of the squared value (and of the value), and the number of rows. Sums are kept in double.
 *
 * <p>Which calls count follows llama.cpp: only the layers' matrices ({@code blk.*} in GGUF naming), the
 * LM head ({@code output.weight}) only when asked for (a head tied to the embedding, {@code token_embd},
 * never), and only batches of at least {@link #MIN_ROWS} rows (llama.cpp ignores smaller ones, such as
 * single-token decoding). Entries are keyed by GGUF tensor name.
 *
 * <p>Methods are synchronized, so a collector may be shared, though the decoder calls it from one thread.
 */
public final class ImatrixCollector implements ActivationObserver {
    /** Batches with fewer rows are ignored, as in llama.cpp. */
    public static final int MIN_ROWS = 16;

    private static final class Accumulator {
        final double[] sumSquares;
        final double[] sums;
        long rows;
        long calls;

        Accumulator(int cols) {
            sumSquares = new double[cols];
            sums = new double[cols];
        }
    }

    private final boolean processOutput;
    private final Map<String, Accumulator> stats = new LinkedHashMap<>();
    /** HF name → GGUF name, or "" for weights not collected. */
    private final Map<String, String> names = new LinkedHashMap<>();

    /** @param processOutput also collect the (untied) LM head, like llama-imatrix --process-output */
    public ImatrixCollector(boolean processOutput) {
        this.processOutput = processOutput;
    }

    public ImatrixCollector() {
        this(false);
    }

    @Override
    public synchronized void linearInput(String weight, float[] input, int rows, int cols) {
        if (rows < MIN_ROWS) {
            return;
        }
        String name = names.computeIfAbsent(weight, this::collectedName);
        if (name.isEmpty()) {
            return;
        }
        Accumulator a = stats.computeIfAbsent(name, k -> new Accumulator(cols));
        if (a.sumSquares.length != cols) {
            throw new IllegalStateException(name + ": input of " + cols + " columns after " + a.sumSquares.length);
        }
        double[] s2 = a.sumSquares;
        double[] s = a.sums;
        for (int r = 0; r < rows; r++) {
            int off = r * cols;
            for (int j = 0; j < cols; j++) {
                double x = input[off + j];
                s2[j] += x * x;
                s[j] += x;
            }
        }
        a.rows += rows;
        a.calls++;
    }

    private String collectedName(String hfName) {
        String gguf = GgufTensorNames.toGguf(hfName);
        if (gguf == null) {
            gguf = hfName;
        }
        if (gguf.startsWith("blk.") || (processOutput && gguf.equals("output.weight"))) {
            return gguf;
        }
        return "";
    }

    /** The GGUF names collected so far, in the order first seen. */
    public synchronized List<String> names() {
        return List.copyOf(stats.keySet());
    }

    /** Sum of squares per column of one weight (GGUF name), a copy; null when not collected. */
    public synchronized double[] sumSquares(String ggufName) {
        Accumulator a = stats.get(ggufName);
        return a == null ? null : a.sumSquares.clone();
    }

    /** Plain sums per column of one weight (GGUF name), a copy; null when not collected. */
    public synchronized double[] sums(String ggufName) {
        Accumulator a = stats.get(ggufName);
        return a == null ? null : a.sums.clone();
    }

    /** Activation rows (tokens) summed for one weight; 0 when not collected. */
    public synchronized long rows(String ggufName) {
        Accumulator a = stats.get(ggufName);
        return a == null ? 0 : a.rows;
    }

    /** Forward-pass calls that contributed to one weight; 0 when not collected. */
    public synchronized long calls(String ggufName) {
        Accumulator a = stats.get(ggufName);
        return a == null ? 0 : a.calls;
    }

    /** Forgets everything collected. */
    public synchronized void clear() {
        stats.clear();
    }

    /**
     * The statistics as an {@link Imatrix} whose counts are rows (tokens), with chunk count and size as
     * llama.cpp's GGUF format records them (so the legacy writer gives ncall = chunks).
     *
     * @param datasets   the calibration text files
     * @param chunkCount chunks processed
     * @param chunkSize  tokens per chunk (positive)
     */
    public synchronized Imatrix toImatrix(List<String> datasets, int chunkCount, int chunkSize) {
        List<Imatrix.Entry> entries = new ArrayList<>(stats.size());
        for (Map.Entry<String, Accumulator> e : stats.entrySet()) {
            Accumulator a = e.getValue();
            entries.add(new Imatrix.Entry(e.getKey(), toFloat(a.sumSquares), new long[]{a.rows}, toFloat(a.sums)));
        }
        return new Imatrix(null, entries, datasets, chunkCount, chunkSize);
    }

    private static float[] toFloat(double[] v) {
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) v[i];
        }
        return out;
    }
}
