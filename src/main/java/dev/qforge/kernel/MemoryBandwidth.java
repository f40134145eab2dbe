package dev.qforge.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Measures memory read bandwidth the way a decode step reads weights: all threads of {@link Parallel}
 * stream disjoint slices of a buffer much larger than the caches and sum them with the Vector API.
 * On a machine whose bandwidth changes over time (see PERF-FACTS.md), a decode speed only means something
 * next to a probe taken in the same minute, so benchmarks run this right before and after each timing.
 */
public final class MemoryBandwidth implements AutoCloseable {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final long SLICE = 1 << 20;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer;
    private final float[] sink = new float[1024];

    public MemoryBandwidth(long bytes) {
        buffer = arena.allocate(bytes, 64);
        buffer.fill((byte) 1);
    }

    /** GB/s (10⁹ bytes) of the best of {@code reps} passes over the buffer. */
    public double measureGBps(int reps) {
        long slices = buffer.byteSize() / SLICE;
        double best = 0;
        for (int r = 0; r < reps; r++) {
            long t0 = System.nanoTime();
            Parallel.forRange((int) slices, i -> sink[i & 1023] += sumSlice(i * SLICE));
            double seconds = (System.nanoTime() - t0) / 1e9;
            best = Math.max(best, slices * SLICE / seconds / 1e9);
        }
        return best;
    }

    private float sumSlice(long offset) {
        FloatVector a = FloatVector.zero(S);
        FloatVector b = FloatVector.zero(S);
        long step = S.vectorByteSize();
        for (long p = offset; p < offset + SLICE; p += 2 * step) {
            a = a.add(FloatVector.fromMemorySegment(S, buffer, p, ByteOrder.LITTLE_ENDIAN));
            b = b.add(FloatVector.fromMemorySegment(S, buffer, p + step, ByteOrder.LITTLE_ENDIAN));
        }
        return a.add(b).reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void close() {
        arena.close();
    }
}
