package dev.qforge.eval;

import dev.qforge.QforgeException;
import dev.qforge.format.AtomicFile;
import dev.qforge.format.FloatEncoding;
import dev.qforge.format.SafetensorsFile;
import dev.qforge.format.SafetensorsWriter;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The scored positions of a perplexity run, saved so that a later run of another model (a quantized one)
 * can measure its KL divergence against them without the text: the role of llama.cpp's
 * --kl-divergence-base file. A safetensors file with
 * <ul>
 * <li>{@code tokens} I32 [chunks × ctx]: the evaluated tokens, as tokenized (before any BOS replacement);</li>
 * <li>{@code targets} I32 [rows]: the token each scored row predicts;</li>
 * <li>{@code log_probs} I16 [rows, vocab] with {@code log_prob_range} F32 [rows, 2]: the log-softmax of
 * each scored row, stored as 16-bit steps over [lo, top] (value = lo + step·(q + 32768)), where top is the
 * row's largest log-probability and lo its smallest but at most {@value #RANGE} nats below top. KL
 * divergence is sensitive to absolute errors of log-probabilities, so an even grid (step ≤ 32/65535 ≈
 * 5e-4) suits it better than F16, whose absolute error grows to 2e-3 at log p ≈ −6 and measurably biases
 * small divergences (~2e-5 seen on a 512-token vocabulary). The reader renormalizes each row.</li>
 * </ul>
 * Metadata: {@code qforge.kind = scored-logits}, vocab, ctx, chunks, protocol.
 */
public final class ScoredLogitsFile implements AutoCloseable {
    public static final String KIND = "scored-logits";
    public static final String TOKENS = "tokens";
    public static final String TARGETS = "targets";
    public static final String LOG_PROBS = "log_probs";
    public static final String LOG_PROB_RANGE = "log_prob_range";
    /** Log-probabilities more than this many nats below a row's top are stored as the bottom of the grid. */
    static final float RANGE = 32f;

    private final SafetensorsFile file;
    private final int vocab;
    private final int ctx;
    private final int chunks;
    private final String protocol;
    private final Tensor logProbs;
    private final float[] ranges;
    private final int[] targets;

    private ScoredLogitsFile(SafetensorsFile file) {
        this.file = file;
        Path p = file.path();
        if (!KIND.equals(file.metadata().get("qforge.kind"))) {
            throw new QforgeException(p + ": not a saved-logits file (made by `qforge eval ppl --save-logits`)");
        }
        this.vocab = intMeta("vocab");
        this.ctx = intMeta("ctx");
        this.chunks = intMeta("chunks");
        this.protocol = file.metadata().getOrDefault("protocol", "");
        this.logProbs = file.tensor(LOG_PROBS);
        this.ranges = file.tensor(LOG_PROB_RANGE).toFloatArray();
        this.targets = file.tensor(TARGETS).toIntArray();
        Tensor tokens = file.tensor(TOKENS);
        if (logProbs.dtype() != DType.I16 || logProbs.rank() != 2 || logProbs.dim(1) != vocab
                || logProbs.dim(0) != targets.length || ranges.length != 2 * targets.length
                || tokens.elementCount() != (long) chunks * ctx) {
            throw new QforgeException(p + ": tensor shapes disagree with the metadata (vocab " + vocab + ", ctx " + ctx
                    + ", chunks " + chunks + ")");
        }
    }

    public static ScoredLogitsFile open(Path path) {
        SafetensorsFile f = SafetensorsFile.open(path);
        try {
            return new ScoredLogitsFile(f);
        } catch (RuntimeException e) {
            f.close();
            throw e;
        }
    }

    private int intMeta(String key) {
        String v = file.metadata().get(key);
        try {
            int i = Integer.parseInt(v);
            if (i <= 0) {
                throw new NumberFormatException();
            }
            return i;
        } catch (NumberFormatException e) {
            throw new QforgeException(file.path() + ": metadata '" + key + "' is missing or not a positive integer");
        }
    }

    public int vocab() {
        return vocab;
    }

    public int ctx() {
        return ctx;
    }

    public int chunks() {
        return chunks;
    }

    public String protocol() {
        return protocol;
    }

    public int rows() {
        return targets.length;
    }

    public int[] tokens() {
        return file.tensor(TOKENS).toIntArray();
    }

    public int target(int row) {
        return targets[row];
    }

    /** Row r's log-probabilities into dst[dstOff .. dstOff + vocab), renormalized after decoding the grid. */
    public void logProbs(int row, float[] dst, int dstOff) {
        float lo = ranges[2 * row];
        float step = ranges[2 * row + 1];
        long base = (long) row * vocab;
        for (int i = 0; i < vocab; i++) {
            dst[dstOff + i] = lo + step * ((int) logProbs.getLong(base + i) + 32768);
        }
        double lse = LogSoftmax.logSumExp(dst, dstOff, vocab);
        for (int i = 0; i < vocab; i++) {
            dst[dstOff + i] = (float) (dst[dstOff + i] - lse);
        }
    }

    @Override
    public void close() {
        file.close();
    }

    /**
     * Starts a file for {@code chunks} chunks of {@code ctx} tokens with {@code rowsPerChunk} scored rows
     * each; rows are streamed as they come, and {@link Writer#commit()} makes the file appear.
     */
    public static Writer writer(Path file, int vocab, int ctx, int chunks, int rowsPerChunk, int[] tokens, String protocol) {
        return new Writer(file, vocab, ctx, chunks, rowsPerChunk, tokens, protocol);
    }

    /** Streams rows to a side file (log-probs come before targets are all known), then assembles the file. */
    public static final class Writer implements ScoredLogitsSink, AutoCloseable {
        private final Path path;
        private final AtomicFile spill;
        private final Path spillPath;
        private final SafetensorsWriter layout;
        private final int vocab;
        private final int[] targets;
        private final float[] ranges;
        private final float[] logProbs;
        private final byte[] encoded;
        private int written;

        private Writer(Path path, int vocab, int ctx, int chunks, int rowsPerChunk, int[] tokens, String protocol) {
            this.path = path;
            this.vocab = vocab;
            this.targets = new int[chunks * rowsPerChunk];
            this.ranges = new float[2 * targets.length];
            this.logProbs = new float[vocab];
            this.encoded = new byte[2 * vocab];
            int[] evaluated = java.util.Arrays.copyOf(tokens, chunks * ctx);
            this.spillPath = path.toAbsolutePath().resolveSibling("." + path.getFileName() + ".rows");
            this.spill = AtomicFile.create(spillPath);
            this.layout = new SafetensorsWriter()
                    .metadata("qforge.kind", KIND)
                    .metadata("vocab", Integer.toString(vocab))
                    .metadata("ctx", Integer.toString(ctx))
                    .metadata("chunks", Integer.toString(chunks))
                    .metadata("protocol", protocol)
                    .add(TOKENS, DType.I32, new long[]{evaluated.length}, out -> writeInts(out, evaluated))
                    .add(TARGETS, DType.I32, new long[]{targets.length}, out -> writeInts(out, targets))
                    .add(LOG_PROB_RANGE, DType.F32, new long[]{targets.length, 2}, out -> FloatEncoding.writeF32(out, ranges, 0, ranges.length))
                    .add(LOG_PROBS, DType.I16, new long[]{targets.length, vocab}, out -> Files.copy(spillPath, out));
        }

        @Override
        public void accept(int chunk, float[] logits, int[] chunkTargets, int vocabSize) {
            try {
                for (int r = 0; r < chunkTargets.length; r++) {
                    double lse = LogSoftmax.logSumExp(logits, r * vocab, vocab);
                    float top = Float.NEGATIVE_INFINITY;
                    float bottom = Float.POSITIVE_INFINITY;
                    for (int i = 0; i < vocab; i++) {
                        logProbs[i] = (float) (logits[r * vocab + i] - lse);
                        top = Math.max(top, logProbs[i]);
                        bottom = Math.min(bottom, logProbs[i]);
                    }
                    float lo = Math.max(bottom, top - RANGE);
                    float step = top > lo ? (top - lo) / 65535f : 1f;
                    for (int i = 0; i < vocab; i++) {
                        int q = Math.clamp(Math.round((logProbs[i] - lo) / step), 0, 65535) - 32768;
                        encoded[2 * i] = (byte) q;
                        encoded[2 * i + 1] = (byte) (q >>> 8);
                    }
                    spill.stream().write(encoded);
                    ranges[2 * written] = lo;
                    ranges[2 * written + 1] = step;
                    targets[written++] = chunkTargets[r];
                }
            } catch (IOException e) {
                throw new QforgeException(path + ": cannot write: " + e.getMessage(), e);
            }
        }

        public void commit() {
            if (written != targets.length) {
                throw new IllegalStateException("expected " + targets.length + " rows, got " + written);
            }
            spill.commit();
            try {
                layout.write(path);
            } finally {
                deleteQuietly(spillPath);
            }
        }

        @Override
        public void close() {
            spill.close();
            deleteQuietly(spillPath);
        }

        private static void writeInts(OutputStream out, int[] values) throws IOException {
            byte[] buf = new byte[values.length * 4];
            for (int i = 0; i < values.length; i++) {
                int v = values[i];
                buf[4 * i] = (byte) v;
                buf[4 * i + 1] = (byte) (v >>> 8);
                buf[4 * i + 2] = (byte) (v >>> 16);
                buf[4 * i + 3] = (byte) (v >>> 24);
            }
            out.write(buf);
        }

        private static void deleteQuietly(Path p) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a stray side file is harmless
            }
        }
    }
}
