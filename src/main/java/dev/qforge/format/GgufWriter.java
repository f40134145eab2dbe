package dev.qforge.format;

import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.tensor.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a GGUF file the way llama.cpp does: header, metadata in insertion order, tensor infos, zero
 * padding to the alignment, then each tensor's bytes followed by zero padding to the alignment. Tensor
 * offsets are assigned in the order tensors are added. Tensor bytes are streamed from producers, so a
 * model larger than memory can be written; the file appears (atomically) only when complete.
 */
public final class GgufWriter {
    private record Entry(String name, long[] ne, GgmlType type, long bytes, long offset, AtomicFile.Producer content) {
    }

    private int version = 3;
    private int alignment = GgufFile.DEFAULT_ALIGNMENT;
    private final Map<String, GgufValue> metadata = new LinkedHashMap<>();
    private final List<Entry> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private long dataBytes;

    /** A writer with the metadata (same order) and tensors (same order, bytes copied from the map) of a file. */
    public static GgufWriter copyOf(GgufFile source) {
        GgufWriter w = new GgufWriter().version(source.version());
        source.metadata().asMap().forEach(w::put);
        for (GgufTensorInfo t : source.tensorInfos()) {
            w.addTensor(t.name(), t.type(), t.ne(), source.data(t));
        }
        return w;
    }

    /** The GGUF version written in the header: 3 (the default) or 2, which has the same layout. */
    public GgufWriter version(int version) {
        if (version != 2 && version != 3) {
            throw new IllegalArgumentException("GGUF version " + version + " cannot be written (only 2 and 3)");
        }
        this.version = version;
        return this;
    }

    /**
     * Sets a metadata value: a new key goes after the others, an existing key keeps its place. Setting
     * {@code general.alignment} (a UINT32 power of two) changes the alignment; only before tensors are added.
     */
    public GgufWriter put(String key, GgufValue value) {
        if (key.getBytes(StandardCharsets.UTF_8).length > 65535) {
            throw new IllegalArgumentException("metadata key longer than 65535 bytes");
        }
        if (key.equals(GgufFile.ALIGNMENT_KEY)) {
            if (value.type() != GgufValueType.UINT32 || value.longAt(0) == 0 || Long.bitCount(value.longAt(0)) != 1
                    || value.longAt(0) > 1L << 30) {
                throw new IllegalArgumentException(GgufFile.ALIGNMENT_KEY + " must be a UINT32 power of two, not " + value);
            }
            if (!tensors.isEmpty() && value.longAt(0) != alignment) {
                throw new IllegalStateException("set " + GgufFile.ALIGNMENT_KEY + " before adding tensors");
            }
            alignment = (int) value.longAt(0);
        }
        metadata.put(key, value);
        return this;
    }

    public GgufWriter putString(String key, String value) {
        return put(key, GgufValue.string(value));
    }

    public GgufWriter putUInt32(String key, long value) {
        return put(key, GgufValue.uint32(value));
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, GgufValue.int32(value));
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, GgufValue.float32(value));
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, GgufValue.bool(value));
    }

    public GgufWriter remove(String key) {
        if (key.equals(GgufFile.ALIGNMENT_KEY)) {
            if (!tensors.isEmpty() && alignment != GgufFile.DEFAULT_ALIGNMENT) {
                throw new IllegalStateException("remove " + GgufFile.ALIGNMENT_KEY + " before adding tensors");
            }
            alignment = GgufFile.DEFAULT_ALIGNMENT;
        }
        metadata.remove(key);
        return this;
    }

    /**
     * Adds a tensor with dims {@code ne} in ggml order (ne[0] contiguous; as many as given, 1 to 4) whose
     * bytes the producer writes; it must write exactly the tensor's byte size.
     */
    public GgufWriter addTensor(String name, GgmlType type, long[] ne, AtomicFile.Producer content) {
        int nameBytes = name.getBytes(StandardCharsets.UTF_8).length;
        if (nameBytes == 0 || nameBytes > GgufFile.MAX_NAME_BYTES) {
            throw new IllegalArgumentException("tensor name '" + name + "' must be 1 to " + GgufFile.MAX_NAME_BYTES + " bytes");
        }
        if (!names.add(name)) {
            throw new IllegalArgumentException("duplicate tensor name " + name);
        }
        if (ne.length > GgufFile.MAX_DIMS) {
            throw new IllegalArgumentException("tensor " + name + " has " + ne.length + " dims; GGUF allows at most 4");
        }
        for (long d : ne) {
            if (d <= 0) {
                throw new IllegalArgumentException("tensor " + name + " has a dimension " + d);
            }
        }
        if ((ne.length == 0 ? 1 : ne[0]) % type.blockSize() != 0) {
            throw new IllegalArgumentException("tensor " + name + ": a row of " + (ne.length == 0 ? 1 : ne[0])
                    + " is not a multiple of the " + type + " block size " + type.blockSize());
        }
        long bytes = GgufTensorInfo.byteSize(type, ne);
        tensors.add(new Entry(name, ne.clone(), type, bytes, dataBytes, content));
        dataBytes = Math.addExact(dataBytes, GgufFile.alignUp(bytes, alignment));
        return this;
    }

    /** Adds a tensor whose bytes are {@code data} (for example a slice of another mapped file). */
    public GgufWriter addTensor(String name, GgmlType type, long[] ne, MemorySegment data) {
        long expected = GgufTensorInfo.byteSize(type, ne);
        if (data.byteSize() != expected) {
            throw new IllegalArgumentException("tensor " + name + " is " + expected + " bytes as " + type
                    + " but " + data.byteSize() + " bytes were given");
        }
        return addTensor(name, type, ne, out -> {
            if (out instanceof LittleEndianOutput le) {
                le.segment(data);
            } else {
                LittleEndianOutput le = new LittleEndianOutput(out);
                le.segment(data);
                le.flush();
            }
        });
    }

    /** Adds an unquantized tensor (F32, F16, BF16, F64 or integer) under its own name; its row-major shape is reversed to ggml order. */
    public GgufWriter addTensor(Tensor t) {
        GgmlType type = switch (t.dtype()) {
            case F32 -> GgmlType.F32;
            case F16 -> GgmlType.F16;
            case BF16 -> GgmlType.BF16;
            case F64 -> GgmlType.F64;
            case I8 -> GgmlType.I8;
            case I16 -> GgmlType.I16;
            case I32 -> GgmlType.I32;
            case I64 -> GgmlType.I64;
            default -> throw new IllegalArgumentException("GGUF has no type for " + t.dtype() + " tensor " + t.name());
        };
        long[] shape = t.shape();
        long[] ne = new long[shape.length];
        for (int i = 0; i < shape.length; i++) {
            ne[i] = shape[shape.length - 1 - i];
        }
        return addTensor(t.name(), type, ne, t.data());
    }

    public void write(Path target) {
        AtomicFile.write(target, this::writeTo);
    }

    /** The size of the file {@link #writeTo} would write, in bytes, without producing any tensor's bytes. */
    public long fileSize() {
        long[] header = {0};
        OutputStream counter = new OutputStream() {
            @Override
            public void write(int b) {
                header[0]++;
            }

            @Override
            public void write(byte[] b, int off, int len) {
                header[0] += len;
            }
        };
        try {
            LittleEndianOutput le = new LittleEndianOutput(counter);
            writeHeader(le);
            le.flush();
        } catch (IOException e) {
            throw new IllegalStateException("counting bytes cannot fail", e);
        }
        return header[0] + dataBytes;
    }

    /** Writes the whole file to {@code out}. */
    public void writeTo(OutputStream out) throws IOException {
        LittleEndianOutput le = new LittleEndianOutput(out);
        writeHeader(le);
        long dataStart = le.written();
        for (Entry e : tensors) {
            long before = le.written();
            if (before - dataStart != e.offset) {
                throw new IllegalStateException("tensor " + e.name + " starts at " + (before - dataStart) + ", expected " + e.offset);
            }
            e.content.writeTo(le);
            long wrote = le.written() - before;
            if (wrote != e.bytes) {
                throw new IllegalStateException("tensor " + e.name + " wrote " + wrote + " bytes, expected " + e.bytes);
            }
            le.padTo(alignment);
        }
        le.flush();
    }

    private void writeHeader(LittleEndianOutput le) throws IOException {
        le.u32(GgufFile.MAGIC);
        le.u32(version);
        le.u64(tensors.size());
        le.u64(metadata.size());
        for (Map.Entry<String, GgufValue> kv : metadata.entrySet()) {
            string(le, kv.getKey().getBytes(StandardCharsets.UTF_8));
            le.u32(kv.getValue().type().id());
            value(le, kv.getValue());
        }
        for (Entry e : tensors) {
            string(le, e.name.getBytes(StandardCharsets.UTF_8));
            le.u32(e.ne.length);
            for (long d : e.ne) {
                le.u64(d);
            }
            le.u32(e.type.id());
            le.u64(e.offset);
        }
        le.padTo(alignment);
    }

    private static void value(LittleEndianOutput le, GgufValue v) throws IOException {
        if (v.isArray()) {
            le.u32(v.elementType().id());
            le.u64(v.size());
        }
        Object p = v.payload();
        switch (v.elementType()) {
            case UINT8, INT8, BOOL -> le.write((byte[]) p);
            case UINT16, INT16 -> {
                for (short x : (short[]) p) {
                    le.u16(x);
                }
            }
            case UINT32, INT32 -> {
                for (int x : (int[]) p) {
                    le.u32(x);
                }
            }
            case UINT64, INT64 -> {
                for (long x : (long[]) p) {
                    le.u64(x);
                }
            }
            case FLOAT32 -> {
                for (float x : (float[]) p) {
                    le.f32(x);
                }
            }
            case FLOAT64 -> {
                for (double x : (double[]) p) {
                    le.f64(x);
                }
            }
            case STRING -> {
                for (byte[] s : (byte[][]) p) {
                    string(le, s);
                }
            }
            case ARRAY -> {
                for (GgufValue a : (GgufValue[]) p) {
                    value(le, a);
                }
            }
        }
    }

    private static void string(LittleEndianOutput le, byte[] utf8) throws IOException {
        le.u64(utf8.length);
        le.write(utf8);
    }
}
