package dev.qforge.kernel;

import dev.qforge.kernel.onednn.OneDnn;

import java.util.Locale;

/**
 * Who multiplies a batch of tokens (prefill, perplexity chunks) by a weight matrix.
 *
 * <ul>
 *   <li>{@link #JAVA}: qforge's own F32 GEMM (Vector API). Exact F32 activations, the same result on any
 *   thread count; the library's default, and what calibration uses so quantized files do not depend on
 *   the machine's native libraries.</li>
 *   <li>{@link #ONEDNN}: oneDNN's matmul through FFM, where the CPU has a BF16 dot product (AVX512-BF16 or
 *   AMX): its BF16 kernel for BF16 and block-quantized weights (weights expanded to BF16 a slice at a time,
 *   activations rounded to BF16, sums in F32), its F32 kernel for F32 weights; F16 weights stay on the Java
 *   GEMM. Fails when oneDNN cannot load or the CPU lacks the dot product; a batch that oneDNN fails later in
 *   the run is recomputed on the Java GEMM, as every later batch is, with one line on stderr.</li>
 *   <li>{@link #AUTO}: {@code ONEDNN} where it can run, else {@code JAVA}; what the runtime commands use.</li>
 * </ul>
 * Decode (one token) and small batches never go native: they are bound by memory, not by the dot product.
 */
public enum MatMulBackend {
    JAVA, ONEDNN, AUTO;

    /** The system property that sets the starting choice (java, onednn or auto). */
    public static final String PROPERTY = "qforge.matmul";

    private static volatile MatMulBackend chosen = fromProperty();
    /**
     * Whether batches go native under this choice: null until the first batch asks, so that a command that
     * never multiplies a batch (help, inspect) never loads the library. From the property, ONEDNN where it
     * cannot run falls back quietly; from {@link #set}, it is an error there and then.
     */
    private static volatile Boolean nativeOn;
    /** Why oneDNN was switched off mid-run (one line), or null. */
    private static volatile String failure;

    private static MatMulBackend fromProperty() {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isBlank()) {
            return JAVA;
        }
        try {
            return parse(v);
        } catch (IllegalArgumentException e) {
            return JAVA; // the command line reports the bad value; a library user keeps the safe default
        }
    }

    public static MatMulBackend parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown matmul backend '" + name + "' (java, onednn or auto)");
        }
    }

    public static MatMulBackend current() {
        return chosen;
    }

    /** Chooses the backend; ONEDNN where it cannot run is an error naming why (AUTO is resolved on first use). */
    public static synchronized void set(MatMulBackend backend) {
        Boolean on = null;
        if (backend == JAVA) {
            on = false;
        } else if (backend == ONEDNN) {
            String problem = nativeProblem();
            if (problem != null) {
                throw new IllegalArgumentException("--matmul onednn: " + problem);
            }
            on = true;
        }
        chosen = backend;
        nativeOn = on;
        failure = null;
    }

    /** Null when oneDNN's BF16 matmul can run here, else why not (one line). */
    public static String nativeProblem() {
        OneDnn dnnl = OneDnn.get();
        if (dnnl == null) {
            return OneDnn.unavailableReason();
        }
        if (!dnnl.hasBf16Dot()) {
            return "the CPU has no BF16 dot product (" + dnnl.describe() + "), where oneDNN's BF16 matmul is no faster than F32";
        }
        return null;
    }

    /** Whether batches go to oneDNN now. */
    static boolean nativeOn() {
        Boolean on = nativeOn;
        if (on == null) {
            synchronized (MatMulBackend.class) {
                on = nativeOn;
                if (on == null) {
                    on = chosen != JAVA && nativeProblem() == null;
                    nativeOn = on;
                }
            }
        }
        return on;
    }

    /**
     * oneDNN failed on a batch: this and every later batch of the process run on the Java GEMM, and one line on
     * stderr says so and why (a result from the slower path, not a failed command).
     */
    static synchronized void nativeFailed(Throwable e) {
        if (failure == null) {
            failure = e.getClass().getSimpleName() + ": " + e.getMessage();
            System.err.println("qforge: oneDNN's matmul failed (" + failure + "); batches run on the Java GEMM from here on");
        }
        nativeOn = false;
    }

    /** One line for benchmark headers: which path prefill takes. */
    public static String describe() {
        if (nativeOn()) {
            return "prefill matmul: oneDNN (" + OneDnn.get().describe() + ")";
        }
        if (failure != null) {
            return "prefill matmul: Java F32 GEMM (oneDNN failed: " + failure + ")";
        }
        if (chosen == JAVA) {
            return "prefill matmul: Java F32 GEMM";
        }
        return "prefill matmul: Java F32 GEMM (oneDNN not used: " + nativeProblem() + ")";
    }
}
