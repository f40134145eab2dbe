package dev.qforge.kernel.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * dst[t, r] = sum_c src[t, c] · W[r, c] by oneDNN's matmul, with src and W both in BF16 or both in F32 and
 * dst in F32: the token rows of src are its M, the weight rows (read in place, HF Linear layout, any row
 * stride) its N.
 *
 * <p>A primitive is made per shape (a few milliseconds; oneDNN chooses and JIT-compiles the kernel for
 * the CPU) and kept in a small LRU cache: a model's prefill has a handful of shapes. Calls are
 * serialized: oneDNN's own threads already use every core.
 */
public final class NativeMatMul {
    private static final int DT_F32 = 3;
    private static final int ARG_SRC = 1;
    private static final int ARG_DST = 17;
    private static final int ARG_WEIGHTS = 33;
    private static final int CACHED_SHAPES = 32;

    private final OneDnn dnnl;
    private final Map<Shape, Primitive> cache = new LinkedHashMap<>(16, 0.75f, true);

    /** The element type of src and weights. */
    public enum Input {
        BF16(2, 2), F32(3, 4);

        final int dnnlType;
        private final int bytes;

        Input(int dnnlType, int bytes) {
            this.dnnlType = dnnlType;
            this.bytes = bytes;
        }

        /** Bytes per element. */
        public int bytes() {
            return bytes;
        }
    }

    public NativeMatMul(OneDnn dnnl) {
        this.dnnl = dnnl;
    }

    private record Shape(Input input, int n, int rows, int cols, long weightStride) {
    }

    /** One compiled matmul and the three memory objects its calls point at their buffers. */
    private final class Primitive {
        final MemorySegment primitive;
        final MemorySegment primitiveDesc;
        final MemorySegment[] descs = new MemorySegment[3];
        final MemorySegment[] memories = new MemorySegment[3];
        final MemorySegment args;
        final Arena arena = Arena.ofShared();

        Primitive(Shape s) throws Throwable {
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment dims = arena.allocate(JAVA_LONG, 2);
            MemorySegment strides = arena.allocate(JAVA_LONG, 2);
            // src [n, cols] row-major; weights as oneDNN's [K = cols, N = rows] with strides (1, row stride);
            // dst [n, rows] row-major — the layout of qforge's out[t*rows + r].
            descs[0] = desc(out, dims, strides, s.n, s.cols, s.cols, 1, s.input.dnnlType);
            descs[1] = desc(out, dims, strides, s.cols, s.rows, 1, s.weightStride, s.input.dnnlType);
            descs[2] = desc(out, dims, strides, s.n, s.rows, s.rows, 1, DT_F32);
            OneDnn.check((int) dnnl.matmulPrimitiveDescCreate.invokeExact(out, dnnl.engine, descs[0], descs[1],
                    MemorySegment.NULL, descs[2], MemorySegment.NULL), "dnnl_matmul_primitive_desc_create");
            primitiveDesc = out.get(ADDRESS, 0);
            OneDnn.check((int) dnnl.primitiveCreate.invokeExact(out, primitiveDesc), "dnnl_primitive_create");
            primitive = out.get(ADDRESS, 0);
            args = arena.allocate(16L * 3, 8);
            int[] ids = {ARG_SRC, ARG_WEIGHTS, ARG_DST};
            for (int i = 0; i < 3; i++) {
                OneDnn.check((int) dnnl.memoryCreate.invokeExact(out, descs[i], dnnl.engine, MemorySegment.NULL),
                        "dnnl_memory_create");
                memories[i] = out.get(ADDRESS, 0);
                // dnnl_exec_arg_t: int arg; (padding); dnnl_memory_t memory
                args.set(JAVA_INT, 16L * i, ids[i]);
                args.set(ADDRESS, 16L * i + 8, memories[i]);
            }
        }

        private MemorySegment desc(MemorySegment out, MemorySegment dims, MemorySegment strides, long d0, long d1,
                                   long s0, long s1, int type) throws Throwable {
            dims.setAtIndex(JAVA_LONG, 0, d0);
            dims.setAtIndex(JAVA_LONG, 1, d1);
            strides.setAtIndex(JAVA_LONG, 0, s0);
            strides.setAtIndex(JAVA_LONG, 1, s1);
            OneDnn.check((int) dnnl.memoryDescCreateWithStrides.invokeExact(out, 2, dims, type, strides),
                    "dnnl_memory_desc_create_with_strides");
            return out.get(ADDRESS, 0);
        }

        void destroy() throws Throwable {
            for (MemorySegment m : memories) {
                OneDnn.check((int) dnnl.memoryDestroy.invokeExact(m), "dnnl_memory_destroy");
            }
            for (MemorySegment d : descs) {
                OneDnn.check((int) dnnl.memoryDescDestroy.invokeExact(d), "dnnl_memory_desc_destroy");
            }
            OneDnn.check((int) dnnl.primitiveDestroy.invokeExact(primitive), "dnnl_primitive_destroy");
            OneDnn.check((int) dnnl.primitiveDescDestroy.invokeExact(primitiveDesc), "dnnl_primitive_desc_destroy");
            arena.close();
        }
    }

    /**
     * dst[t*rows + r] = sum_c src[t*cols + c] · weights[r*weightStride + c] (elements) for t &lt; n, r &lt; rows.
     * All three segments are native; src and weights hold {@code input}, dst F32.
     */
    public synchronized void run(Input input, MemorySegment src, MemorySegment weights, long weightStride,
                                 MemorySegment dst, int n, int rows, int cols, int threads) {
        if (src.byteSize() < (long) input.bytes * n * cols || dst.byteSize() < 4L * n * rows
                || weights.byteSize() < input.bytes * ((rows - 1) * weightStride + cols)) {
            throw new IllegalArgumentException("NativeMatMul: buffers too small for n=" + n + ", rows=" + rows
                    + ", cols=" + cols);
        }
        try {
            Shape shape = new Shape(input, n, rows, cols, weightStride);
            Primitive p = cache.get(shape);
            if (p == null) {
                p = new Primitive(shape);
                cache.put(shape, p);
                if (cache.size() > CACHED_SHAPES) {
                    var eldest = cache.entrySet().iterator();
                    Primitive old = eldest.next().getValue();
                    eldest.remove();
                    old.destroy();
                }
            }
            OneDnn.check((int) dnnl.memorySetDataHandle.invokeExact(p.memories[0], src), "dnnl_memory_set_data_handle");
            OneDnn.check((int) dnnl.memorySetDataHandle.invokeExact(p.memories[1], weights), "dnnl_memory_set_data_handle");
            OneDnn.check((int) dnnl.memorySetDataHandle.invokeExact(p.memories[2], dst), "dnnl_memory_set_data_handle");
            dnnl.useThreads(threads);
            OneDnn.check((int) dnnl.primitiveExecute.invokeExact(p.primitive, dnnl.stream, 3, p.args),
                    "dnnl_primitive_execute");
            OneDnn.check((int) dnnl.streamWait.invokeExact(dnnl.stream), "dnnl_stream_wait");
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("oneDNN matmul failed: " + e, e);
        }
    }
}
