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
    private static final int THREADS = configuredThreads();
    /** How long an idle worker spins before it parks, in nanoseconds. */
    private static final long SPIN_NANOS = 200_000;

    private static final ReentrantLock LOCK = new ReentrantLock();
    private static final Worker[] WORKERS = startWorkers();
    /** The most recently published job; workers run each new one they see. */
    private static volatile Job current;

    private Parallel() {
    }

    public static int threads() {
        return THREADS;
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
        if (count == 1 || WORKERS.length == 0 || Thread.currentThread() instanceof Worker
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
            for (Worker w : WORKERS) {
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
            try {
                n = Integer.parseInt(prop.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("qforge.threads must be a positive integer, not '" + prop + "'");
            }
        }
        return Math.max(1, n);
    }

    private static Worker[] startWorkers() {
        Worker[] workers = new Worker[THREADS - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].start();
        }
        return workers;
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

        Worker(int index) {
            super("qforge-worker-" + index);
            setDaemon(true);
        }

        @Override
        public void run() {
            Job last = null;
            while (true) {
                Job job = awaitNewJob(last);
                last = job;
                job.work();
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
