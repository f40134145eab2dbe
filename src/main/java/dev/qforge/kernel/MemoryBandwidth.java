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
 *
 * <p>Each thread reads its chunk both as one stream and as four streams whose loads interleave, and the probe reports
 * the faster: on the Intel Xeons of issue 12 one thread's single stream stops well short of what four deliver (the
 * F32 decode kernel that reads four rows at once streamed at 105-107 % of a one-stream probe), on Zen 4 the single
 * stream was the faster. A probe must say what the machine can do, not what one loop does.
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

    /**
     * GB/s of reading {@code segment} whole on all threads: the median of {@code reps} passes, each thread's chunks
     * read as one stream and as four, whichever was faster.
     */
    public static double measureGBps(MemorySegment segment, int reps) {
        return Math.max(measureGBps(segment, reps, false), measureGBps(segment, reps, true));
    }

    private static double measureGBps(MemorySegment segment, int reps, boolean fourStreams) {
        int tasks = (int) (segment.byteSize() / CHUNK);
        float[] sinks = new float[tasks];
        double[] r = new double[reps];
        for (int rep = 0; rep < reps; rep++) {
            long t0 = System.nanoTime();
            Parallel.forRange(tasks, t -> sinks[t] += fourStreams ? sumChunkFour(segment, t * CHUNK)
                    : sumChunk(segment, t * CHUNK));
            r[rep] = (double) tasks * CHUNK / (System.nanoTime() - t0);
        }
        Arrays.sort(r);
        return r[reps / 2];
    }

    /** The chunk at offset as four streams, its quarters, read a vector of each in turn. */
    private static float sumChunkFour(MemorySegment seg, long offset) {
        float s = 0;
        long quarter = CHUNK / 4;
        for (long o = offset; o < offset + quarter; o += BLOCK) {
            s += sumBlockFour(seg, o, quarter);
        }
        return s;
    }

    private static float sumBlockFour(MemorySegment seg, long offset, long quarter) {
        FloatVector a = FloatVector.zero(S);
        FloatVector b = a;
        FloatVector c = a;
        FloatVector d = a;
        long step = S.vectorByteSize();
        for (long p = offset; p < offset + BLOCK; p += step) {
            a = a.add(FloatVector.fromMemorySegment(S, seg, p, ByteOrder.LITTLE_ENDIAN));
            b = b.add(FloatVector.fromMemorySegment(S, seg, p + quarter, ByteOrder.LITTLE_ENDIAN));
            c = c.add(FloatVector.fromMemorySegment(S, seg, p + 2 * quarter, ByteOrder.LITTLE_ENDIAN));
            d = d.add(FloatVector.fromMemorySegment(S, seg, p + 3 * quarter, ByteOrder.LITTLE_ENDIAN));
        }
        return Lanes.sum(a.add(b).add(c.add(d)));
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
