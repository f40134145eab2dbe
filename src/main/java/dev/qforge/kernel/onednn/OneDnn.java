package dev.qforge.kernel.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few functions of oneDNN's C API that a matrix product needs, called through FFM: one CPU engine
 * and one in-order stream for the process. Loaded on first use; when the library cannot load here
 * ({@link #get()} is null) {@link #unavailableReason()} says why, and the callers keep their Java path.
 *
 * <p>Why a native library at all: the instructions that decide a quantized prefill's speed (AVX512-BF16
 * {@code vdpbf16ps}, VNNI {@code vpdpbusd}, AMX tiles) are out of the Vector API's reach, and oneDNN
 * picks among them by the CPU it finds.
 */
public final class OneDnn {
    /** dnnl_cpu_isa_t bits of AVX512-BF16; AMX and AVX10 include them. */
    private static final int ISA_AVX512_CORE_BF16 = 0xe7;

    private static volatile Object state;

    final MethodHandle memoryDescCreateWithStrides;
    final MethodHandle memoryDescDestroy;
    final MethodHandle matmulPrimitiveDescCreate;
    final MethodHandle primitiveDescDestroy;
    final MethodHandle primitiveCreate;
    final MethodHandle primitiveDestroy;
    final MethodHandle memoryCreate;
    final MethodHandle memorySetDataHandle;
    final MethodHandle memoryDestroy;
    final MethodHandle primitiveExecute;
    final MethodHandle streamWait;
    private final MethodHandle ompSetNumThreads;
    final MemorySegment engine;
    final MemorySegment stream;
    private final int isa;
    private final String version;

    private OneDnn(Path dir) throws Throwable {
        Arena arena = Arena.global();
        // OpenMP's threads otherwise spin for a while after each parallel region, on the cores that qforge's
        // own pool needs next (halved the FMA probe and decode after a prefill on 2 cores). libgomp reads
        // this once, when it loads; a value the user set is kept.
        Linker linker = Linker.nativeLinker();
        MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        int ignored = (int) setenv.invokeExact(arena.allocateFrom("OMP_WAIT_POLICY"), arena.allocateFrom("PASSIVE"), 0);
        // libdnnl needs libgomp by its soname; the copy beside it is found through its $ORIGIN run path.
        SymbolLookup gomp = SymbolLookup.libraryLookup(dir.resolve(BundledLibraries.GOMP), arena);
        SymbolLookup dnnl = SymbolLookup.libraryLookup(dir.resolve(BundledLibraries.DNNL), arena);
        ompSetNumThreads = linker.downcallHandle(gomp.find("omp_set_num_threads").orElseThrow(),
                FunctionDescriptor.ofVoid(JAVA_INT));
        memoryDescCreateWithStrides = bind(linker, dnnl, "dnnl_memory_desc_create_with_strides",
                ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS);
        memoryDescDestroy = bind(linker, dnnl, "dnnl_memory_desc_destroy", ADDRESS);
        matmulPrimitiveDescCreate = bind(linker, dnnl, "dnnl_matmul_primitive_desc_create",
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        primitiveDescDestroy = bind(linker, dnnl, "dnnl_primitive_desc_destroy", ADDRESS);
        primitiveCreate = bind(linker, dnnl, "dnnl_primitive_create", ADDRESS, ADDRESS);
        primitiveDestroy = bind(linker, dnnl, "dnnl_primitive_destroy", ADDRESS);
        memoryCreate = bind(linker, dnnl, "dnnl_memory_create", ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        memorySetDataHandle = bind(linker, dnnl, "dnnl_memory_set_data_handle", ADDRESS, ADDRESS);
        memoryDestroy = bind(linker, dnnl, "dnnl_memory_destroy", ADDRESS);
        primitiveExecute = bind(linker, dnnl, "dnnl_primitive_execute", ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
        streamWait = bind(linker, dnnl, "dnnl_stream_wait", ADDRESS);
        MethodHandle engineCreate = bind(linker, dnnl, "dnnl_engine_create", ADDRESS, JAVA_INT, JAVA_LONG);
        MethodHandle streamCreate = bind(linker, dnnl, "dnnl_stream_create", ADDRESS, ADDRESS, JAVA_INT);
        MethodHandle effectiveIsa = linker.downcallHandle(dnnl.find("dnnl_get_effective_cpu_isa").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT));
        MethodHandle versionOf = linker.downcallHandle(dnnl.find("dnnl_version").orElseThrow(),
                FunctionDescriptor.of(ADDRESS));
        MemorySegment out = arena.allocate(ADDRESS);
        check((int) engineCreate.invokeExact(out, 1 /* dnnl_cpu */, 0L), "dnnl_engine_create");
        engine = out.get(ADDRESS, 0);
        check((int) streamCreate.invokeExact(out, engine, 1 /* dnnl_stream_in_order */), "dnnl_stream_create");
        stream = out.get(ADDRESS, 0);
        isa = (int) effectiveIsa.invokeExact();
        // dnnl_version_t: int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime
        MemorySegment v = ((MemorySegment) versionOf.invokeExact()).reinterpret(12);
        version = v.get(JAVA_INT, 0) + "." + v.get(JAVA_INT, 4) + "." + v.get(JAVA_INT, 8);
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lib, String name, java.lang.foreign.MemoryLayout... args) {
        return linker.downcallHandle(lib.find(name).orElseThrow(() -> new IllegalStateException("oneDNN lacks " + name)),
                FunctionDescriptor.of(JAVA_INT, args));
    }

    /** The library, loaded on first call; null when it cannot load on this machine. */
    public static OneDnn get() {
        Object s = state;
        if (s == null) {
            synchronized (OneDnn.class) {
                s = state;
                if (s == null) {
                    s = load();
                    state = s;
                }
            }
        }
        return s instanceof OneDnn o ? o : null;
    }

    /** Why {@link #get()} is null (one line), or null when it loaded. */
    public static String unavailableReason() {
        get();
        return state instanceof String reason ? reason : null;
    }

    private static Object load() {
        String problem = BundledLibraries.platformProblem();
        if (problem != null) {
            return problem;
        }
        String missing = BundledLibraries.missingResource();
        if (missing != null) {
            return "oneDNN is not on the class path (" + missing + ")";
        }
        try {
            return new OneDnn(BundledLibraries.extract());
        } catch (Throwable e) {
            return "oneDNN did not load: " + e;
        }
    }

    /** Whether the CPU oneDNN found has a BF16 dot product (AVX512-BF16, or AMX), which its BF16 matmul needs to beat F32. */
    public boolean hasBf16Dot() {
        return (isa & ISA_AVX512_CORE_BF16) == ISA_AVX512_CORE_BF16;
    }

    /** e.g. "oneDNN 3.8.1, ISA 0xe7 (AVX512-BF16)". */
    public String describe() {
        String name = switch (isa) {
            case 0x7 -> "AVX2";
            case 0xf -> "AVX2-VNNI";
            case 0x1f -> "AVX2-VNNI-2";
            case 0x27 -> "AVX-512";
            case 0x67 -> "AVX512-VNNI";
            case 0xe7 -> "AVX512-BF16";
            case 0x1ef -> "AVX10.1/AVX512-FP16";
            case 0xfef -> "AMX-BF16/INT8";
            case 0x1fef -> "AMX-FP16";
            default -> "other";
        };
        return "oneDNN " + version + ", ISA 0x" + Integer.toHexString(isa) + " (" + name + ")";
    }

    /**
     * OpenMP threads for this thread's next call (oneDNN's threads are its own, not qforge's pool). Set on
     * every call: OpenMP keeps the count per calling thread, and a new thread starts from the default.
     */
    void useThreads(int threads) throws Throwable {
        ompSetNumThreads.invokeExact(threads);
    }

    static void check(int status, String call) {
        if (status != 0) {
            String what = switch (status) {
                case 1 -> "out of memory";
                case 2 -> "invalid arguments";
                case 3 -> "unimplemented";
                case 5 -> "runtime error";
                default -> "status " + status;
            };
            throw new IllegalStateException(call + " failed: " + what);
        }
    }
}
