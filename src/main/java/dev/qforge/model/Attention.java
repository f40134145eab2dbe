package dev.qforge.model;

import dev.qforge.kernel.GroupedQueryKernels;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.VectorMath;

/**
 * Causal grouped-query attention of a batch of new tokens over the KV cache: query head h reads KV head
 * h / (numHeads / numKvHeads). The cache holds each KV head's keys in blocks of positions (per block and dimension,
 * the block's keys as one vector: {@link GroupedQueryKernels#KEY_BLOCK}) and its values by position
 * ([position][dim]): the scores (Σ_d q[d]·K[d][j]) are then vector operations along positions, the output
 * (Σ_j p[j]·V[j][d]) along dimensions, and neither sums lanes across a vector. Each (token, KV head) pair is
 * independent, so they are spread over threads.
 */
final class Attention {
    private static final ThreadLocal<float[]> SCORES = ThreadLocal.withInitial(() -> new float[0]);

    private Attention() {
    }

    /**
     * Stores the keys and values of the n new tokens (rows of s.k and s.v) in the cache of {@code layer} and fills
     * s.attention[t*qDim + h*headDim ..] for them. The query heads that share a KV head are scored and summed together,
     * up to {@link GroupedQueryKernels#HEADS_PER_PASS} in a pass, so the keys and values are read once per pass instead
     * of once per query head. A single token with at least as many KV heads as threads has a task per KV head that
     * stores its own head first: the cache lines a store writes are then read by the thread that wrote them, where a
     * store by the caller ahead of the parallel part left the other thread fetching each freshly written line from the
     * caller's cache (a 1B model's attention step took 48 µs instead of 18 at 32 positions). Otherwise (a batch, or
     * fewer KV heads than threads, as multi-query attention has) the caller stores and the tasks are the (token, KV
     * head, pass) triples.
     */
    static void attend(ModelConfig c, InferenceState s, int layer, int n) {
        int kvHeads = c.numKvHeads();
        int passes = passes(c);
        if (n == 1 && kvHeads >= Parallel.threads()) {
            Parallel.forRange(kvHeads, kv -> {
                storeHead(c, s, layer, 0, kv);
                attendPasses(c, s, layer, 0, kv, 0, passes);
            });
            return;
        }
        for (int t = 0; t < n; t++) {
            for (int kv = 0; kv < kvHeads; kv++) {
                storeHead(c, s, layer, t, kv);
            }
        }
        Parallel.forRange(n * kvHeads * passes, job -> {
            int pass = job % passes;
            int head = job / passes;
            attendPasses(c, s, layer, head / kvHeads, head % kvHeads, pass, pass + 1);
        });
    }

    /** Passes over the query heads of one KV head. */
    private static int passes(ModelConfig c) {
        int groupSize = c.numHeads() / c.numKvHeads();
        return (groupSize + GroupedQueryKernels.HEADS_PER_PASS - 1) / GroupedQueryKernels.HEADS_PER_PASS;
    }

    /** Writes token t's key and value of KV head kv into the cache, at position s.length + t. */
    private static void storeHead(ModelConfig c, InferenceState s, int layer, int t, int kv) {
        int hd = c.headDim();
        int kvDim = c.kvDim();
        int b = GroupedQueryKernels.KEY_BLOCK;
        float[] keys = s.keys[layer];
        int pos = s.length + t;
        int key = s.keyIndex(kv, pos, hd);
        for (int d = 0; d < hd; d++) {
            keys[key + d * b] = s.k[t * kvDim + kv * hd + d];
        }
        System.arraycopy(s.v, t * kvDim + kv * hd, s.values[layer], (kv * s.capacity + pos) * hd, hd);
    }

    /**
     * The attention output for token t of the query heads of KV head kv in passes [from, to) (a pass: up to
     * {@link GroupedQueryKernels#HEADS_PER_PASS} of them), over the positions up to its own. The scores are taken from
     * the start of the key block that holds the first position (a sliding window's first need not start a block), so
     * each head's row of scores starts {@code skip} positions early, and the softmax and the sum start after them.
     */
    private static void attendPasses(ModelConfig c, InferenceState s, int layer, int t, int kv, int from, int to) {
        int groupSize = c.numHeads() / c.numKvHeads();
        int hd = c.headDim();
        int cap = s.capacity;
        int pos = s.length + t;
        int window = c.slidingWindow();
        int first = window > 0 ? Math.max(0, pos - window + 1) : 0;
        int span = pos - first + 1;
        int skip = first % GroupedQueryKernels.KEY_BLOCK;
        int row = skip + span;
        float scale = (float) (1.0 / Math.sqrt(hd));
        float[] p = scratch(GroupedQueryKernels.HEADS_PER_PASS * row);
        int keyBase = s.keyIndex(kv, first, hd) - skip; // the start of first's block
        int valueBase = (kv * cap + first) * hd;
        for (int pass = from; pass < to; pass++) {
            int g = pass * GroupedQueryKernels.HEADS_PER_PASS;
            int count = Math.min(GroupedQueryKernels.HEADS_PER_PASS, groupSize - g);
            int qOff = t * c.qDim() + (kv * groupSize + g) * hd;
            GroupedQueryKernels.scores(s.q, qOff, count, hd, scale, s.keys[layer], keyBase, row, p, 0, row);
            for (int h = 0; h < count; h++) {
                VectorMath.softmax(p, h * row + skip, span);
            }
            GroupedQueryKernels.weightedValues(p, skip, row, count, span, s.values[layer], valueBase, hd, hd,
                    s.attention, qOff);
        }
    }

    private static float[] scratch(int n) {
        float[] a = SCORES.get();
        if (a.length < n) {
            a = new float[Math.max(n, a.length * 2)];
            SCORES.set(a);
        }
        return a;
    }
}
