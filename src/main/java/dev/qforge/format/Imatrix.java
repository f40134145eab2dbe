package dev.qforge.format;

import dev.qforge.QforgeException;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An importance matrix as llama.cpp's {@code llama-imatrix} collects it: for each weight matrix (named
 * like {@code blk.0.attn_q.weight}) the sum over activation rows of each input column's squared value,
 * and how many rows were summed, so that {@code sumSquares[j] / count} is the mean squared activation
 * of column j, the importance the quantizers weight errors by. A 3-D (expert) tensor has one count per
 * matrix and {@code sumSquares} holds the matrices one after another.
 *
 * <p>What a count counts depends on where it came from: tokens for the GGUF format ({@code chunkSize}
 * > 0, tokens per chunk), calls for the legacy .dat format ({@code chunkSize} = 0: the file stores
 * {@code mean × ncall} and {@code ncall}). The mean is the same either way; {@link #withChunkSize} turns
 * call counts into token counts, which the GGUF format needs.
 */
public final class Imatrix {
    /**
     * One weight matrix's statistics. {@code sums} (plain sums of activations, written by newer
     * llama.cpp) is null when absent. Arrays are held, not copied.
     */
    public record Entry(String name, float[] sumSquares, long[] counts, float[] sums) {
        public Entry {
            if (counts.length == 0 || sumSquares.length == 0 || sumSquares.length % counts.length != 0) {
                throw new IllegalArgumentException(name + ": " + sumSquares.length + " values do not split into "
                        + counts.length + " matrices");
            }
            if (sums != null && sums.length != sumSquares.length) {
                throw new IllegalArgumentException(name + ": " + sums.length + " sums for " + sumSquares.length + " values");
            }
            for (long c : counts) {
                if (c < 0) {
                    throw new IllegalArgumentException(name + ": negative count " + c);
                }
            }
        }

        /** A dense (one-matrix) entry. */
        public Entry(String name, float[] sumSquares, long count) {
            this(name, sumSquares, new long[]{count}, null);
        }

        /** Input columns of one matrix. */
        public int columns() {
            return sumSquares.length / counts.length;
        }

        public int matrices() {
            return counts.length;
        }

        /**
         * Mean squared activation of every column (all matrices, one after another): what a quantizer takes
         * as importance. A matrix that saw no rows (count 0) gets 1 everywhere, as llama.cpp does.
         */
        public float[] mean() {
            int cols = columns();
            float[] out = new float[sumSquares.length];
            for (int i = 0; i < out.length; i++) {
                long c = counts[i / cols];
                out[i] = c == 0 ? 1f : sumSquares[i] / c;
            }
            return out;
        }
    }

    private final Path source;
    private final Map<String, Entry> entries;
    private final List<String> datasets;
    private final int chunkCount;
    private final int chunkSize;

    /**
     * @param source     where it was read from, for messages (null for one computed in memory)
     * @param entries    in the order they are to be written
     * @param datasets   the text files it was computed from
     * @param chunkCount chunks processed
     * @param chunkSize  tokens per chunk, or 0 when counts are calls (the legacy format)
     */
    public Imatrix(Path source, List<Entry> entries, List<String> datasets, int chunkCount, int chunkSize) {
        if (chunkCount < 0 || chunkSize < 0) {
            throw new IllegalArgumentException("negative chunk count or size");
        }
        Map<String, Entry> m = new LinkedHashMap<>();
        for (Entry e : entries) {
            if (m.put(e.name(), e) != null) {
                throw new IllegalArgumentException("duplicate imatrix entry " + e.name());
            }
        }
        this.source = source;
        this.entries = Collections.unmodifiableMap(m);
        this.datasets = List.copyOf(datasets);
        this.chunkCount = chunkCount;
        this.chunkSize = chunkSize;
    }

    public Path source() {
        return source;
    }

    /** Entries by tensor name, in file order. */
    public Map<String, Entry> entries() {
        return entries;
    }

    public List<String> names() {
        return List.copyOf(entries.keySet());
    }

    public boolean contains(String tensorName) {
        return entries.containsKey(tensorName);
    }

    public Entry entry(String tensorName) {
        Entry e = entries.get(tensorName);
        if (e == null) {
            throw new QforgeException(where() + ": no imatrix entry for tensor '" + tensorName + "'");
        }
        return e;
    }

    public List<String> datasets() {
        return datasets;
    }

    public int chunkCount() {
        return chunkCount;
    }

    /** Tokens per chunk, or 0 when the counts are calls (read from the legacy format). */
    public int chunkSize() {
        return chunkSize;
    }

    /**
     * The importance (mean squared activation per column) for a tensor whose rows have {@code columns}
     * elements, or null when the imatrix has no entry for it; an entry of another width is an error. As in
     * llama-quantize: {@link Entry#mean()}, except that a legacy entry with ncall 0 gives its values as stored.
     */
    public float[] importance(String tensorName, long columns) {
        Entry e = entries.get(tensorName);
        if (e == null) {
            return null;
        }
        if (e.columns() != columns) {
            throw new QforgeException(where() + ": entry '" + tensorName + "' has " + e.columns()
                    + " values per matrix, but the tensor's rows have " + columns + " (imatrix of another model?)");
        }
        if (chunkSize == 0 && e.counts()[0] == 0) {
            return e.sumSquares().clone();
        }
        return e.mean();
    }

    /**
     * The same statistics with counts in tokens of {@code tokensPerChunk}: for an imatrix read from the
     * legacy format, sums and counts are scaled by it (as llama.cpp does when it loads a .dat file); for
     * one that already has a chunk size, only the same size is accepted.
     */
    public Imatrix withChunkSize(int tokensPerChunk) {
        if (tokensPerChunk <= 0) {
            throw new IllegalArgumentException("chunk size must be positive, not " + tokensPerChunk);
        }
        if (chunkSize != 0) {
            if (chunkSize != tokensPerChunk) {
                throw new IllegalArgumentException("imatrix already counts tokens in chunks of " + chunkSize);
            }
            return this;
        }
        List<Entry> scaled = entries.values().stream().map(e -> {
            float[] s2 = new float[e.sumSquares().length];
            for (int i = 0; i < s2.length; i++) {
                s2[i] = e.sumSquares()[i] * tokensPerChunk;
            }
            long[] c = new long[e.counts().length];
            for (int i = 0; i < c.length; i++) {
                c[i] = Math.multiplyExact(e.counts()[i], (long) tokensPerChunk);
            }
            float[] s = null;
            if (e.sums() != null) {
                s = new float[e.sums().length];
                for (int i = 0; i < s.length; i++) {
                    s[i] = e.sums()[i] * tokensPerChunk;
                }
            }
            return new Entry(e.name(), s2, c, s);
        }).toList();
        return new Imatrix(source, scaled, datasets, chunkCount, tokensPerChunk);
    }

    private String where() {
        return source == null ? "imatrix" : source.toString();
    }
}
