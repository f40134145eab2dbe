package dev.qforge.kernel;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Measures memory read bandwidth the way a decode step reads weights: all threads of {@link Parallel}
 * stream disjoint chunks of a buffer much larger than the caches and sum them with the Vector API, in
 * blocks the size of a weight row (short calls, so C2 compiles the loop whole). On a machine whose
 * bandwidth changes over time (see PERF-FACTS.md), a decode speed only means something next to a probe
 * taken in the same minute, so benchmarks run this right before and after each timing.
 */
public final class MemoryBandwidth implements AutoCloseable {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final long CHUNK = 4L << 20;
    private static final int BLOCK = 8 * 1024;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;

    /** A probe over a buffer of this many bytes (1 GiB is well past any cache). */
    public MemoryBandwidth(long bytes) {
        // huge pages, as the decode layouts have: on 4 KiB pages every page boundary stops the prefetcher and costs a
        // TLB miss, and the probe would report less than the machine delivers
        buffer = HugePageMemory.allocate(bytes, arena);
        buffer.fill((byte) 1);
    }

    /** GB/s (10⁹ bytes per second): the median of {@code reps} passes over the buffer. */
    public double measureGBps(int reps) {
        return measureGBps(buffer, reps);
    }

    /** GB/s of reading {@code segment} whole on all threads: the median of {@code reps} passes. */
    public static double measureGBps(MemorySegment segment, int reps) {
        int tasks = (int) (segment.byteSize() / CHUNK);
        float[] sinks = new float[tasks];
        double[] r = new double[reps];
        for (int rep = 0; rep < reps; rep++) {
            long t0 = System.nanoTime();
            Parallel.forRange(tasks, t -> sinks[t] += sumChunk(segment, t * CHUNK));
            r[rep] = (double) tasks * CHUNK / (System.nanoTime() - t0);
        }
        Arrays.sort(r);
        return r[reps / 2];
    }

    private static float sumChunk(MemorySegment seg, long offset) {
        float s = 0;
        for (long o = offset; o < offset + CHUNK; o += BLOCK) {
            s += sumBlock(seg, o);
        }
        return s;
    }

    private static float sumBlock(MemorySegment seg, long offset) {
        FloatVector a = FloatVector.zero(S);
        FloatVector b = FloatVector.zero(S);
        long step = S.vectorByteSize();
        for (long p = offset; p < offset + BLOCK; p += 2 * step) {
            a = a.add(FloatVector.fromMemorySegment(S, seg, p, ByteOrder.LITTLE_ENDIAN));
            b = b.add(FloatVector.fromMemorySegment(S, seg, p + step, ByteOrder.LITTLE_ENDIAN));
        }
        return Lanes.sum(a.add(b));
    }

    @Override
    public void close() {
        arena.close();
    }
}
