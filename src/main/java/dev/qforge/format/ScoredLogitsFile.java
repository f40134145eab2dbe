package dev.qforge.format;

import dev.qforge.eval.ScoredLogitsSink;
import dev.qforge.eval.LogSoftmax;
import dev.qforge.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * The scored positions of a perplexity run, saved for a later KL-divergence comparison (the role of
 * llama.cpp's --kl-divergence-base file). A safetensors file with {@code targets} (I32 [rows]) and
 * {@code log_probs} (F16 [rows, vocab]: log-softmax of each scored row; F16 keeps the file at half the
 * size of F32 with a relative error of 2⁻¹¹ per log-probability). Metadata: vocab, rows.
 * The row count is fixed up front so the header can be written first and rows streamed after it.
 */
public final class ScoredLogitsFile {
    public static final String TARGETS = "targets";
    public static final String LOG_PROBS = "log_probs";

    private ScoredLogitsFile() {
    }

    public static Writer writer(Path file, int vocab, int rows) {
        return new Writer(file, vocab, rows);
    }

    /** Streams rows to the file; {@link #commit()} makes it appear, closing without commit removes it. */
    public static final class Writer implements ScoredLogitsSink, AutoCloseable {
        private final AtomicFile file;
        private final int vocab;
        private final int rows;
        private final int[] targets;
        private final Path path;
        private int written;
        private final float[] logProbs;
        private final AtomicFile logProbSpill;

        private Writer(Path path, int vocab, int rows) {
            this.path = path;
            this.vocab = vocab;
            this.rows = rows;
            this.targets = new int[rows];
            this.logProbs = new float[vocab];
            this.file = AtomicFile.create(path);
            // Targets precede log-probs in the file but arrive with them: spill log-probs to a side file.
            this.logProbSpill = AtomicFile.create(path.resolveSibling(path.getFileName() + ".logprobs"));
        }

        @Override
        public void accept(int chunk, float[] logits, int[] chunkTargets, int vocabSize) {
            try {
                for (int r = 0; r < chunkTargets.length; r++) {
                    double lse = LogSoftmax.logSumExp(logits, r * vocab, vocab);
                    for (int i = 0; i < vocab; i++) {
                        logProbs[i] = (float) (logits[r * vocab + i] - lse);
                    }
                    FloatEncoding.writeF16(logProbSpill.stream(), logProbs, 0, vocab);
                    targets[written++] = chunkTargets[r];
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }

        public void commit() {
            if (written != rows) {
                throw new IllegalStateException("expected " + rows + " rows, got " + written);
            }
            logProbSpill.commit();
            Path spill = path.resolveSibling(path.getFileName() + ".logprobs");
            SafetensorsWriter w = new SafetensorsWriter()
                    .metadata("vocab", Integer.toString(vocab))
                    .metadata("rows", Integer.toString(rows))
                    .add(TARGETS, DType.I32, new long[]{rows}, out -> {
                        for (int t : targets) {
                            out.write(t);
                            out.write(t >>> 8);
                            out.write(t >>> 16);
                            out.write(t >>> 24);
                        }
                    })
                    .add(LOG_PROBS, DType.F16, new long[]{rows, vocab}, out -> java.nio.file.Files.copy(spill, out));
            try {
                w.writeTo(file.stream());
                file.commit();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                try {
                    java.nio.file.Files.deleteIfExists(spill);
                } catch (IOException ignored) {
                    // a stray side file is harmless
                }
            }
        }

        @Override
        public void close() {
            logProbSpill.close();
            file.close();
        }
    }
}
