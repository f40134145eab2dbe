package dev.qforge.kernel;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * A fixed pool of daemon workers for data-parallel loops. {@link #forRange} hands out indices one at a
 * time from a shared counter (so uneven chunks balance themselves); the calling thread works too. Idle
 * workers spin briefly before parking, so back-to-back calls (decode makes ~100 per token) cost a few
 * microseconds, not a thread wake-up each.
 *
 * <p>Calls from several threads at once are serialized; a call from inside a body (nested) runs its
 * indices sequentially on the calling thread.
 */
public final class Parallel {
    /** Threads that take part in jobs (the caller and active − 1 workers); at most workers.length + 1. */
    private static volatile int active = configuredThreads();
    /** How long an idle worker spins before it parks, in nanoseconds. */
    private static final long SPIN_NANOS = 200_000;

    private static final ReentrantLock LOCK = new ReentrantLock();
    private static volatile Worker[] workers = startWorkers(0, active - 1, new Worker[0]);
    /** The most recently published job; workers run each new one they see. */
    private static volatile Job current;

    private Parallel() {
    }

    public static int threads() {
        return active;
    }

    /**
     * Uses {@code n} threads from now on (the caller counts as one): workers are started when there are
     * too few, and the ones beyond n sit out. Waits for a running job to finish first.
     */
    public static void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads must be at least 1, not " + n);
        }
        LOCK.lock();
        try {
            if (n - 1 > workers.length) {
                workers = startWorkers(workers.length, n - 1, workers);
            }
            active = n;
        } finally {
            LOCK.unlock();
        }
    }

    /** Whether {@code s} is a thread count (a whole number ≥ 1): the launcher's QFORGE_THREADS is checked with it. */
    public static boolean isThreadCount(String s) {
        try {
            return Integer.parseInt(s.trim()) >= 1;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /**
     * Runs {@code body.accept(i)} for every i in [0, count) exactly once, on up to {@link #threads()}
     * threads, and returns when all are done. If bodies throw, the remaining indices are skipped and the
     * first throwable is rethrown (an Error or RuntimeException as is, anything else wrapped).
     */
    public static void forRange(int count, IntConsumer body) {
        if (count <= 0) {
            return;
        }
        if (count == 1 || active == 1 || Thread.currentThread() instanceof Worker
                || LOCK.isHeldByCurrentThread()) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        LOCK.lock();
        try {
            Job job = new Job(body, count);
            current = job;
            Worker[] ws = workers;
            for (int i = 0; i < active - 1; i++) {
                Worker w = ws[i];
                if (w.parked) {
                    LockSupport.unpark(w);
                }
            }
            job.work();
            job.awaitDone();
            Throwable error = job.error;
            if (error != null) {
                if (error instanceof RuntimeException re) {
                    throw re;
                }
                if (error instanceof Error e) {
                    throw e;
                }
                throw new RuntimeException(error);
            }
        } finally {
            LOCK.unlock();
        }
    }

    private static int configuredThreads() {
        String prop = System.getProperty("qforge.threads");
        int n = Runtime.getRuntime().availableProcessors();
        if (prop != null && !prop.isBlank()) {
            // An invalid value is reported by the command line before any kernel runs; a library user gets all cores.
            if (isThreadCount(prop)) {
                n = Integer.parseInt(prop.trim());
            }
        }
        return Math.max(1, n);
    }

    /** The workers {@code old} holds, plus new ones up to {@code count}. */
    private static Worker[] startWorkers(int from, int count, Worker[] old) {
        Worker[] ws = java.util.Arrays.copyOf(old, count);
        for (int i = from; i < count; i++) {
            ws[i] = new Worker(i + 1);
            ws[i].start();
        }
        return ws;
    }

    private static final class Job {
        private static final VarHandle NEXT;
        private static final VarHandle DONE;

        static {
            try {
                MethodHandles.Lookup l = MethodHandles.lookup();
                NEXT = l.findVarHandle(Job.class, "next", int.class);
                DONE = l.findVarHandle(Job.class, "done", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final IntConsumer body;
        final int count;
        @SuppressWarnings("unused") // accessed through NEXT
        private volatile int next;
        private volatile int done;
        volatile Throwable error;

        Job(IntConsumer body, int count) {
            this.body = body;
            this.count = count;
        }

        /** Claims and runs indices until none are left. */
        void work() {
            int finished = 0;
            int i;
            while ((i = (int) NEXT.getAndAdd(this, 1)) < count) {
                if (error == null) {
                    try {
                        body.accept(i);
                    } catch (Throwable t) {
                        synchronized (this) {
                            if (error == null) {
                                error = t;
                            } else if (error != t) {
                                error.addSuppressed(t);
                            }
                        }
                    }
                }
                finished++;
            }
            if (finished > 0) {
                DONE.getAndAdd(this, finished);
            }
        }

        void awaitDone() {
            int spins = 0;
            while (done < count) {
                if (++spins < 20_000) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
        }
    }

    private static final class Worker extends Thread {
        volatile boolean parked;
        private final int index;

        Worker(int index) {
            super("qforge-worker-" + index);
            this.index = index;
            setDaemon(true);
        }

        @Override
        public void run() {
            Job last = null;
            while (true) {
                Job job = awaitNewJob(last);
                last = job;
                if (index < active) {
                    job.work();
                }
            }
        }

        private Job awaitNewJob(Job last) {
            long spinStart = System.nanoTime();
            int spins = 0;
            while (true) {
                Job job = current;
                if (job != last) {
                    return job;
                }
                if ((++spins & 63) != 0 || System.nanoTime() - spinStart < SPIN_NANOS) {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true;
                if (current == last) {
                    LockSupport.park(this);
                }
                parked = false;
                spins = 0;
                spinStart = System.nanoTime();
            }
        }
    }
}
