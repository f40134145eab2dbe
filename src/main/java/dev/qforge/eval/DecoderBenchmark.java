package dev.qforge.eval;

import dev.qforge.kernel.FmaPeak;
import dev.qforge.kernel.MemoryBandwidth;
import dev.qforge.model.Decoder;
import dev.qforge.model.InferenceState;
import dev.qforge.model.LayerWeights;
import dev.qforge.model.ModelConfig;
import dev.qforge.tensor.WeightMatrix;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * llama-bench's two measurements on a decoder: prefill (a batch of pp tokens in one forward pass) and
 * decode (tg tokens one at a time from an empty cache), each repeated and reported by its median, with a
 * memory-bandwidth probe right before and after every timed decode so that decode speed can be read as a
 * fraction of the bound (weight bytes per token ÷ bandwidth), and an FMA-peak probe before every prefill
 * so that prefill GFLOP/s can be read as a fraction of the compute ceiling.
 */
public final class DecoderBenchmark {
    public record Result(int promptTokens, int genTokens, double prefillTokensPerSecond, double decodeTokensPerSecond,
                         double prefillGflops, double fmaPeakGflops, long bytesPerToken, double bandwidthGBps,
                         double bandwidthMinGBps, double bandwidthMaxGBps, long heapBytesPerDecodeToken) {
        /** Decode tokens/s if every weight byte were read at the probed bandwidth. */
        public double decodeBound() {
            return bandwidthGBps * 1e9 / bytesPerToken;
        }
    }

    private final Decoder decoder;

    public DecoderBenchmark(Decoder decoder) {
        this.decoder = decoder;
    }

    /** Bytes of weights a decode step reads: everything but the embedding table (of which it reads one row). */
    public long bytesPerToken() {
        long bytes = decoder.weights().lmHead().byteSize();
        for (LayerWeights w : decoder.weights().layers()) {
            for (WeightMatrix m : w.matrices()) {
                bytes += m.byteSize();
            }
        }
        return bytes;
    }

    /** FLOPs of a forward pass over n tokens from an empty cache: 2 per weight per token, plus attention. */
    public double forwardFlops(int n) {
        ModelConfig c = decoder.config();
        double weights = weightElements();
        double attention = 2.0 * c.numLayers() * c.qDim() * (double) n * (n + 1); // QKᵀ and PV: 4·qDim FLOPs per cached position, summed over the causal triangle
        return 2.0 * weights * n + attention;
    }

    private double weightElements() {
        double n = decoder.weights().lmHead().elementCount();
        for (LayerWeights w : decoder.weights().layers()) {
            for (WeightMatrix m : w.matrices()) {
                n += m.elementCount();
            }
        }
        return n;
    }

    public Result run(int promptTokens, int genTokens, int reps, MemoryBandwidth probe) {
        int vocab = decoder.config().vocabSize();
        int[] tokens = new SplittableRandom(42).ints(Math.max(promptTokens, genTokens), 0, vocab).toArray();
        double[] prefill = new double[reps];
        double[] decode = new double[reps];
        double[] bandwidth = new double[2 * reps];
        double[] peak = new double[reps];
        InferenceState state = decoder.newState(Math.max(promptTokens, genTokens));
        long heapBytes = 0;
        // Warm-up: compile the kernels before timing anything, prefill's and decode's; the first single-token steps
        // also repack the weights into their decode layouts (seconds for a large model), which llama-bench's own
        // warm-up run likewise keeps out of its figures.
        // the whole prompt: a native matmul compiles its kernel per shape on first use (milliseconds each)
        decoder.forward(state, tokens, 0, promptTokens, 1);
        state.reset();
        for (int t = 0; t < Math.min(genTokens, 32); t++) {
            decoder.forward(state, tokens, t, 1, 1);
        }
        for (int r = 0; r < reps; r++) {
            peak[r] = FmaPeak.measureGflops();
            state.reset();
            long t0 = System.nanoTime();
            decoder.forward(state, tokens, 0, promptTokens, 1);
            prefill[r] = promptTokens / ((System.nanoTime() - t0) / 1e9);

            bandwidth[2 * r] = probe.measureGBps(3);
            state.reset();
            long h0 = heapAllocated();
            long t1 = System.nanoTime();
            for (int t = 0; t < genTokens; t++) {
                decoder.forward(state, tokens, t, 1, 1);
            }
            decode[r] = genTokens / ((System.nanoTime() - t1) / 1e9);
            heapBytes += heapAllocated() - h0;
            bandwidth[2 * r + 1] = probe.measureGBps(3);
        }
        double prefillTps = median(prefill);
        return new Result(promptTokens, genTokens, prefillTps, median(decode),
                forwardFlops(promptTokens) / (promptTokens / prefillTps) / 1e9, median(peak), bytesPerToken(), median(bandwidth),
                Arrays.stream(bandwidth).min().orElse(0), Arrays.stream(bandwidth).max().orElse(0),
                heapAllocated() < 0 ? -1 : heapBytes / ((long) reps * genTokens));
    }

    /**
     * Bytes the JVM's threads have allocated on the heap so far, or −1 where the JVM does not count them. A decode step
     * should allocate little beyond its logits: a vector that C2 boxes on the heap in a kernel (where a method that
     * returns one is not inlined) shows up here as megabytes per token long before it shows in the noise of tokens/s.
     */
    private static long heapAllocated() {
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean mx
                && mx.isThreadAllocatedMemorySupported() && mx.isThreadAllocatedMemoryEnabled()) {
            return mx.getTotalThreadAllocatedBytes();
        }
        return -1;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
