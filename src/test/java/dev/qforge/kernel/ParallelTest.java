package dev.qforge.kernel;

import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ParallelTest {
    @Test
    void threadsIsPositive() {
        assertTrue(Parallel.threads() >= 1);
    }

    @Test
    void everyIndexExactlyOnceAcrossManyCalls() {
        for (int count : new int[] {0, 1, 2, 3, 7, 64, 1000, 10_000}) {
            for (int rep = 0; rep < 200; rep++) {
                AtomicIntegerArray hits = new AtomicIntegerArray(Math.max(count, 1));
                Parallel.forRange(count, hits::incrementAndGet);
                for (int i = 0; i < count; i++) {
                    assertEquals(1, hits.get(i), "count " + count + " index " + i);
                }
            }
        }
    }

    @Test
    void usesMoreThanOneThreadWhenAvailable() {
        if (Parallel.threads() < 2) {
            return;
        }
        java.util.Set<Thread> seen = java.util.concurrent.ConcurrentHashMap.newKeySet();
        for (int rep = 0; rep < 50 && seen.size() < 2; rep++) {
            Parallel.forRange(64, i -> {
                seen.add(Thread.currentThread());
                long end = System.nanoTime() + 50_000;
                while (System.nanoTime() < end) {
                    Thread.onSpinWait();
                }
            });
        }
        assertTrue(seen.size() >= 2, "only " + seen.size() + " thread(s) ran bodies");
    }

    @Test
    void concurrentCallersFromSeveralThreads() throws Exception {
        int callers = 4;
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CountDownLatch start = new CountDownLatch(1);
        Thread[] ts = new Thread[callers];
        for (int c = 0; c < callers; c++) {
            int count = 100 + c * 37;
            ts[c] = new Thread(() -> {
                try {
                    start.await();
                    for (int rep = 0; rep < 300; rep++) {
                        AtomicIntegerArray hits = new AtomicIntegerArray(count);
                        Parallel.forRange(count, hits::incrementAndGet);
                        for (int i = 0; i < count; i++) {
                            if (hits.get(i) != 1) {
                                throw new AssertionError("index " + i + " ran " + hits.get(i) + " times");
                            }
                        }
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                }
            });
            ts[c].start();
        }
        start.countDown();
        for (Thread t : ts) {
            t.join(60_000);
        }
        assertNull(failure.get());
    }

    @Test
    void nestedCallsRunInline() {
        AtomicIntegerArray hits = new AtomicIntegerArray(20 * 30);
        Parallel.forRange(20, i -> Parallel.forRange(30, j -> hits.incrementAndGet(i * 30 + j)));
        for (int i = 0; i < 600; i++) {
            assertEquals(1, hits.get(i));
        }
    }

    @Test
    void exceptionsFromAnyThreadPropagate() {
        for (int bad : new int[] {0, 1, 63, 500, 999}) {
            IllegalStateException boom = new IllegalStateException("boom at " + bad);
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Parallel.forRange(1000, i -> {
                if (i == bad) {
                    throw boom;
                }
            }));
            assertSame(boom, e);
        }
        // Exceptions thrown only on worker threads (never the caller) still reach the caller.
        if (Parallel.threads() >= 2) {
            Thread caller = Thread.currentThread();
            AtomicInteger onWorkers = new AtomicInteger();
            RuntimeException e = assertThrows(RuntimeException.class, () -> Parallel.forRange(200, i -> {
                if (Thread.currentThread() != caller) {
                    onWorkers.incrementAndGet();
                    throw new RuntimeException("from worker");
                }
                // hold the caller until a worker has run an index: a fixed 20 µs wait per index failed
                // when a loaded machine woke the worker later than the caller took all 200 indices
                long end = System.nanoTime() + 10_000_000_000L;
                while (onWorkers.get() == 0 && System.nanoTime() < end) {
                    Thread.onSpinWait();
                }
            }));
            assertEquals("from worker", e.getMessage());
            assertTrue(onWorkers.get() > 0);
        }
        // The pool still works afterwards.
        AtomicInteger sum = new AtomicInteger();
        Parallel.forRange(100, sum::addAndGet);
        assertEquals(4950, sum.get());
    }

    @Test
    void theThreadCountCanChangeBetweenJobs() {
        int before = Parallel.threads();
        try {
            for (int threads : new int[]{1, 3, 2}) {
                Parallel.setThreads(threads);
                assertEquals(threads, Parallel.threads());
                java.util.concurrent.atomic.AtomicLong sum = new java.util.concurrent.atomic.AtomicLong();
                java.util.Set<String> names = java.util.concurrent.ConcurrentHashMap.newKeySet();
                Parallel.forRange(10_000, i -> {
                    sum.addAndGet(i);
                    names.add(Thread.currentThread().getName());
                });
                assertEquals(10_000L * 9_999 / 2, sum.get(), threads + " threads");
                assertTrue(names.size() <= threads, "at most " + threads + " threads ran: " + names);
            }
            assertThrows(IllegalArgumentException.class, () -> Parallel.setThreads(0));
        } finally {
            Parallel.setThreads(before);
        }
    }
}
