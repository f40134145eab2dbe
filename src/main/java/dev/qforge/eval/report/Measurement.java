package dev.qforge.eval.report;

/**
 * One file's quality at its size, as a report shows it: which series it belongs to (qforge's files, llama.cpp's),
 * who measured it (qforge's runtime, or llama.cpp's perplexity tool), its bytes and bits per weight, and the
 * measures (null where not measured).
 *
 * @param sameTop fraction of positions where the file's top token is the full-precision model's (0..1)
 */
public record Measurement(String label, String series, String judge, long bytes, double bitsPerWeight, Double ppl,
                          Double pplError, double kld, Double kldError, Double sameTop) {
}
