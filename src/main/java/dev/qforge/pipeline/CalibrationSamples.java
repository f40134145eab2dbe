package dev.qforge.pipeline;

import dev.qforge.QforgeException;
import dev.qforge.eval.PerplexityRun;
import dev.qforge.tokenizer.Tokenizer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The calibration sequences: the text cut into consecutive chunks of {@code ctx} tokens, each starting with
 * BOS where the model has one (as llama.cpp's imatrix and perplexity runs cut it), of which {@code samples}
 * are drawn with a seeded shuffle and kept in text order, so the same text, numbers and seed always give
 * the same calibration.
 */
public record CalibrationSamples(Path source, int ctx, List<int[]> sequences, int available) {
    /** Defaults: llama.cpp's imatrix chunk length, and enough chunks for stable Hessians of widths up to ~8K. */
    public static final int DEFAULT_CTX = 512;
    public static final int DEFAULT_SAMPLES = 128;

    /**
     * @param samples chunks wanted, or 0 for up to {@link #DEFAULT_SAMPLES} (as many as the text has)
     */
    public static CalibrationSamples of(Path source, String text, Tokenizer tokenizer, Integer bos, int samples, int ctx,
                                        long seed) {
        if (ctx < 16) {
            throw new QforgeException("--calib-ctx must be at least 16 tokens, not " + ctx);
        }
        if (samples < 0) {
            throw new QforgeException("--calib-samples must be positive, not " + samples);
        }
        int[] tokens = tokenizer.encode(text);
        int available = tokens.length / ctx;
        if (available == 0) {
            throw new QforgeException(source + ": " + tokens.length + " tokens, fewer than one calibration sample of " + ctx);
        }
        if (samples > available) {
            throw new QforgeException(source + ": " + tokens.length + " tokens hold " + available + " samples of " + ctx
                    + ", fewer than the " + samples + " asked for (--calib-samples)");
        }
        int n = samples == 0 ? Math.min(DEFAULT_SAMPLES, available) : samples;
        List<Integer> order = new ArrayList<>();
        for (int c = 0; c < available; c++) {
            order.add(c);
        }
        Collections.shuffle(order, new Random(seed));
        List<Integer> chosen = new ArrayList<>(order.subList(0, n));
        Collections.sort(chosen);
        List<int[]> sequences = new ArrayList<>(n);
        for (int c : chosen) {
            sequences.add(PerplexityRun.chunk(tokens, c, ctx, bos));
        }
        return new CalibrationSamples(source, ctx, List.copyOf(sequences), available);
    }

    public int count() {
        return sequences.size();
    }

    public long tokens() {
        return (long) count() * ctx;
    }
}
