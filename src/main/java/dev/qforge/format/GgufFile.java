package dev.qforge.format;

import dev.qforge.QforgeException;
import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import dev.qforge.tensor.TensorStore;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One GGUF file (versions 2 and 3, little-endian), memory-mapped: a header (magic "GGUF", version, tensor
 * count, metadata count), typed key-value metadata, tensor infos (name, ggml-order dims, ggml type,
 * offset), padding to {@code general.alignment} (32 by default), then the tensor data. Everything the
 * header says is checked against the file before it is used: every count and length is bounded by the
 * bytes left before anything is allocated, sizes are computed with overflow checks, and tensor byte
 * ranges must be aligned, inside the data section and disjoint. Tensors are zero-copy slices of the map.
 */
public final class GgufFile implements TensorStore {
    public static final String ALIGNMENT_KEY = "general.alignment";
    public static final int DEFAULT_ALIGNMENT = 32;
    /** "GGUF" read as a little-endian u32. */
    static final int MAGIC = 0x46554747;
    /** ggml keeps names in char[64] with a terminating zero. */
    static final int MAX_NAME_BYTES = 63;
    static final int MAX_DIMS = 4;
    /** Arrays of arrays deeper than this are refused (real files have none; deep ones would exhaust the stack). */
    static final int MAX_ARRAY_DEPTH = 8;
    /** Smallest encodings: a key-value pair (key length, type, one byte) and a tensor info (name length, n_dims, type, offset). */
    static final long MIN_KV_BYTES = 8 + 4 + 1;
    static final long MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

    private final Path path;
    /** Owns the mapping; null for bytes parsed from memory. */
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final GgufMetadata metadata;
    private final List<GgufTensorInfo> infos;
    private final Map<String, GgufTensorInfo> byName;
    private final int alignment;
    private final long dataStart;

    private GgufFile(Path path, Arena arena, MemorySegment file, int version, GgufMetadata metadata,
                     List<GgufTensorInfo> infos, int alignment, long dataStart) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.version = version;
        this.metadata = metadata;
        this.infos = Collections.unmodifiableList(infos);
        Map<String, GgufTensorInfo> m = new LinkedHashMap<>();
        for (GgufTensorInfo t : infos) {
            m.put(t.name(), t);
        }
        this.byName = Collections.unmodifiableMap(m);
        this.alignment = alignment;
        this.dataStart = dataStart;
    }

    public static GgufFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            MemorySegment file = size == 0 ? MemorySegment.ofArray(new byte[0])
                    : MappedFiles.mapReadOnly(channel, 0, size, arena);
            return new Parser(path, file).parse(arena);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new QforgeException(path + ": no such file");
        } catch (IOException e) {
            arena.close();
            throw new QforgeException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Parses bytes already in memory; {@code label} stands for the file in messages. */
    static GgufFile parse(Path label, MemorySegment bytes) {
        return new Parser(label, bytes).parse(null);
    }

    /** Whether the file starts with the GGUF magic (false for a missing or short file). */
    public static boolean hasMagic(byte[] firstBytes) {
        return firstBytes.length >= 4 && firstBytes[0] == 'G' && firstBytes[1] == 'G' && firstBytes[2] == 'U'
                && firstBytes[3] == 'F';
    }

    // ---------------------------------------------------------------- parsing

    private static final class Parser {
        private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private final Path path;
        private final MemorySegment seg;
        private final long size;
        private long pos;

        Parser(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
            this.size = seg.byteSize();
        }

        GgufFile parse(Arena arena) {
            if (size < 4) {
                throw error("file is " + size + " bytes, too short for a GGUF header");
            }
            int magic = seg.get(U32, 0);
            if (magic != MAGIC) {
                throw error("not a GGUF file (it starts with 0x" + String.format("%08x", Integer.reverseBytes(magic))
                        + ", not \"GGUF\")");
            }
            if (size < 24) {
                throw error("file is " + size + " bytes, too short for a GGUF header (24 bytes)");
            }
            pos = 4;
            int version = u32("version");
            if (version != 2 && version != 3) {
                int swapped = Integer.reverseBytes(version);
                if (swapped >= 1 && swapped <= 3) {
                    throw error("big-endian GGUF files are not supported (version field reads " + swapped
                            + " big-endian); convert it to little-endian");
                }
                throw error("GGUF version " + Integer.toUnsignedString(version) + " is not supported (only 2 and 3)");
            }
            long tensorCount = u64("tensor count");
            long kvCount = u64("metadata count");
            long left = size - pos;
            if (kvCount < 0 || kvCount > left / MIN_KV_BYTES) {
                throw error("metadata count " + Long.toUnsignedString(kvCount) + " is absurd for a file of " + size
                        + " bytes (each entry takes at least " + MIN_KV_BYTES + ")");
            }
            if (tensorCount < 0 || tensorCount > (left - kvCount * MIN_KV_BYTES) / MIN_TENSOR_INFO_BYTES) {
                throw error("tensor count " + Long.toUnsignedString(tensorCount) + " is absurd for a file of " + size
                        + " bytes (each tensor info takes at least " + MIN_TENSOR_INFO_BYTES + ")");
            }

            Map<String, GgufValue> values = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                String key = utf8(string("key of metadata entry " + i));
                int typeId = u32("value type of metadata key '" + printable(key) + "'");
                GgufValueType type = GgufValueType.byId(typeId);
                if (type == null) {
                    throw error("metadata key '" + printable(key) + "' has unknown value type "
                            + Integer.toUnsignedString(typeId));
                }
                GgufValue value = value(type, key, 0);
                if (values.putIfAbsent(key, value) != null) {
                    throw error("duplicate metadata key '" + printable(key) + "'");
                }
            }
            GgufMetadata metadata = new GgufMetadata(path, values);
            int alignment = alignment(values.get(ALIGNMENT_KEY));

            List<GgufTensorInfo> infos = new ArrayList<>();
            Map<String, GgufTensorInfo> names = new java.util.HashMap<>();
            for (long i = 0; i < tensorCount; i++) {
                GgufTensorInfo info = tensorInfo(i);
                if (names.putIfAbsent(info.name(), info) != null) {
                    throw error("duplicate tensor name '" + printable(info.name()) + "'");
                }
                infos.add(info);
            }
            long dataStart = alignUp(pos, alignment);
            if (tensorCount > 0 && dataStart > size) {
                throw error("the tensor data would start at offset " + dataStart + ", past the end of the file ("
                        + size + " bytes; truncated?)");
            }
            checkLayout(infos, alignment, Math.max(0, size - dataStart));
            return new GgufFile(path, arena, seg, version, metadata, infos, alignment, dataStart);
        }

        private int alignment(GgufValue v) {
            if (v == null) {
                return DEFAULT_ALIGNMENT;
            }
            if (v.type() != GgufValueType.UINT32) {
                throw error(ALIGNMENT_KEY + " is " + (v.isArray() ? "an array" : "a " + v.type()) + ", expected a UINT32");
            }
            long a = v.longAt(0);
            if (a == 0 || Long.bitCount(a) != 1 || a > 1L << 30) {
                throw error(ALIGNMENT_KEY + " = " + a + " is not a power of two (up to 2^30)");
            }
            return (int) a;
        }

        private GgufTensorInfo tensorInfo(long index) {
            byte[] nameBytes = string("name of tensor " + index);
            String name = utf8(nameBytes);
            String where = "tensor '" + printable(name) + "'";
            if (nameBytes.length == 0) {
                throw error("tensor " + index + " has an empty name");
            }
            if (nameBytes.length > MAX_NAME_BYTES) {
                throw error(where + " has a name of " + nameBytes.length + " bytes; ggml allows at most " + MAX_NAME_BYTES);
            }
            int nDims = u32("dimension count of " + where);
            if (nDims < 0 || nDims > MAX_DIMS) {
                throw error(where + " has " + Integer.toUnsignedString(nDims) + " dimensions; GGUF allows at most " + MAX_DIMS);
            }
            long[] ne = new long[nDims];
            long count = 1;
            for (int d = 0; d < nDims; d++) {
                ne[d] = u64("dimension " + d + " of " + where);
                if (ne[d] <= 0) {
                    throw error(where + " has dimension ne[" + d + "] = " + Long.toUnsignedString(ne[d])
                            + "; dimensions must be positive");
                }
                try {
                    count = Math.multiplyExact(count, ne[d]);
                } catch (ArithmeticException e) {
                    throw error(where + " has dimensions whose element count overflows 64 bits");
                }
            }
            int typeId = u32("type of " + where);
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) {
                throw error(where + " has unknown ggml type id " + Integer.toUnsignedString(typeId));
            }
            long rowLength = nDims == 0 ? 1 : ne[0];
            if (rowLength % type.blockSize() != 0) {
                throw error(where + " has rows of " + rowLength + " elements, not a multiple of the " + type
                        + " block size " + type.blockSize());
            }
            try {
                Math.multiplyExact(count / type.blockSize(), (long) type.bytesPerBlock());
            } catch (ArithmeticException e) {
                throw error(where + " has a byte size that overflows 64 bits");
            }
            long offset = u64("data offset of " + where);
            return new GgufTensorInfo(name, ne, type, offset);
        }

        /** Each tensor's bytes must be aligned, inside the data section, and apart from every other tensor's. */
        private void checkLayout(List<GgufTensorInfo> infos, int alignment, long dataSize) {
            for (GgufTensorInfo t : infos) {
                String where = "tensor '" + printable(t.name()) + "'";
                long begin = t.offset();
                if (begin < 0) {
                    throw error(where + " has data offset " + Long.toUnsignedString(begin)
                            + ", outside the data section (" + dataSize + " bytes)");
                }
                if (begin % alignment != 0) {
                    throw error(where + " has data offset " + Long.toUnsignedString(begin)
                            + ", not a multiple of the alignment " + alignment);
                }
                long bytes = t.byteSize();
                if (begin > dataSize || bytes > dataSize - begin) {
                    throw error(where + " occupies " + bytes + " data bytes from offset " + begin
                            + ", outside the data section (" + dataSize + " bytes; truncated?)");
                }
            }
            List<GgufTensorInfo> sorted = new ArrayList<>(infos);
            sorted.sort(Comparator.comparingLong(GgufTensorInfo::offset));
            for (int i = 1; i < sorted.size(); i++) {
                GgufTensorInfo prev = sorted.get(i - 1);
                GgufTensorInfo cur = sorted.get(i);
                long prevEnd = prev.offset() + prev.byteSize();
                if (cur.offset() < prevEnd) {
                    throw error("tensor '" + printable(cur.name()) + "' (data bytes from " + cur.offset()
                            + ") overlaps tensor '" + printable(prev.name()) + "' (data bytes [" + prev.offset()
                            + ", " + prevEnd + "))");
                }
            }
        }

        private GgufValue value(GgufValueType type, String key, int depth) {
            String where = "metadata key '" + printable(key) + "'";
            return switch (type) {
                case UINT8 -> GgufValue.uint8(u8(where));
                case INT8 -> GgufValue.int8(u8(where));
                case UINT16 -> GgufValue.uint16(u16(where));
                case INT16 -> GgufValue.int16(u16(where));
                case UINT32 -> GgufValue.uint32(u32(where));
                case INT32 -> GgufValue.int32(u32(where));
                case UINT64 -> GgufValue.uint64(u64(where));
                case INT64 -> GgufValue.int64(u64(where));
                case FLOAT32 -> {
                    need(4, where);
                    yield GgufValue.scalar(type, bulk(F32, new float[1], 4));
                }
                case FLOAT64 -> {
                    need(8, where);
                    yield GgufValue.scalar(type, bulk(F64, new double[1], 8));
                }
                case BOOL -> GgufValue.bool(bool(u8(where), where));
                case STRING -> GgufValue.string(string(where));
                case ARRAY -> array(where, depth);
            };
        }

        private boolean bool(int b, String where) {
            if (b != 0 && b != 1) {
                throw error(where + " has a BOOL of value " + b + " (only 0 and 1 are valid)");
            }
            return b == 1;
        }

        private GgufValue array(String where, int depth) {
            if (depth >= MAX_ARRAY_DEPTH) {
                throw error(where + " nests arrays more than " + MAX_ARRAY_DEPTH + " deep");
            }
            int typeId = u32("array element type of " + where);
            GgufValueType et = GgufValueType.byId(typeId);
            if (et == null) {
                throw error(where + " has an array of unknown value type " + Integer.toUnsignedString(typeId));
            }
            long n = u64("array length of " + where);
            long left = size - pos;
            if (n < 0 || n > left / et.minEncodedSize()) {
                throw error(where + " has an array of " + Long.toUnsignedString(n) + " " + et + " values (at least "
                        + et.minEncodedSize() + " bytes each), past the end of the file (" + left + " bytes left)");
            }
            if (n > Integer.MAX_VALUE - 8) {
                throw error(where + " has an array of " + n + " values, more than qforge can hold");
            }
            int len = (int) n;
            long bytes = (long) len * et.byteSize();
            Object payload = switch (et) {
                case UINT8, INT8 -> bulk(ValueLayout.JAVA_BYTE, new byte[len], bytes);
                case BOOL -> {
                    byte[] b = bulk(ValueLayout.JAVA_BYTE, new byte[len], bytes);
                    for (byte x : b) {
                        bool(x & 0xFF, where);
                    }
                    yield b;
                }
                case UINT16, INT16 -> bulk(U16, new short[len], bytes);
                case UINT32, INT32 -> bulk(U32, new int[len], bytes);
                case UINT64, INT64 -> bulk(U64, new long[len], bytes);
                case FLOAT32 -> bulk(F32, new float[len], bytes);
                case FLOAT64 -> bulk(F64, new double[len], bytes);
                case STRING -> {
                    byte[][] s = new byte[len][];
                    for (int i = 0; i < len; i++) {
                        s[i] = string(where);
                    }
                    yield s;
                }
                case ARRAY -> {
                    GgufValue[] a = new GgufValue[len];
                    for (int i = 0; i < len; i++) {
                        a[i] = array(where, depth + 1);
                    }
                    yield a;
                }
            };
            return GgufValue.array(et, payload);
        }

        private <A> A bulk(ValueLayout layout, A dst, long bytes) {
            int n = java.lang.reflect.Array.getLength(dst);
            if (n > 0) {
                MemorySegment.copy(seg, layout, pos, dst, 0, n);
            }
            pos += bytes;
            return dst;
        }

        private void need(long n, String what) {
            if (n > size - pos) {
                throw error(what + " at offset " + pos + " runs past the end of the file (" + size + " bytes; truncated?)");
            }
        }

        private int u8(String what) {
            need(1, what);
            return seg.get(ValueLayout.JAVA_BYTE, pos++) & 0xFF;
        }

        private int u16(String what) {
            need(2, what);
            int v = seg.get(U16, pos) & 0xFFFF;
            pos += 2;
            return v;
        }

        private int u32(String what) {
            need(4, what);
            int v = seg.get(U32, pos);
            pos += 4;
            return v;
        }

        private long u64(String what) {
            need(8, what);
            long v = seg.get(U64, pos);
            pos += 8;
            return v;
        }

        /** A u64 length and that many bytes; the length is bounded by the bytes left before anything is allocated. */
        private byte[] string(String what) {
            long len = u64("length of the string of " + what);
            if (len < 0 || len > size - pos) {
                throw error("the string of " + what + " has length " + Long.toUnsignedString(len) + " at offset "
                        + (pos - 8) + ", past the end of the file (" + (size - pos) + " bytes left)");
            }
            if (len > Integer.MAX_VALUE - 8) {
                throw error("the string of " + what + " has length " + len + ", more than qforge can hold");
            }
            byte[] b = new byte[(int) len];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, b, 0, b.length);
            pos += len;
            return b;
        }

        private QforgeException error(String problem) {
            return new QforgeException(path + ": " + problem);
        }
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    /** A name from the file made safe for a one-line message: control characters escaped, long names cut. */
    static String printable(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length() && sb.length() < 120; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7F || c == 0x2028 || c == 0x2029 || c == 0x85) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.length() >= 120 ? sb + "…" : sb.toString();
    }

    public static long alignUp(long offset, long alignment) {
        return Math.addExact(offset, alignment - 1) & -alignment;
    }

    // ---------------------------------------------------------------- access

    public Path path() {
        return path;
    }

    @Override
    public Path source() {
        return path;
    }

    /** 2 or 3. */
    public int version() {
        return version;
    }

    public GgufMetadata metadata() {
        return metadata;
    }

    /** {@code general.alignment}, or 32 when absent. */
    public int alignment() {
        return alignment;
    }

    /** Offset in the file of the data section, where tensor offsets count from. */
    public long dataStart() {
        return dataStart;
    }

    /** The size of the whole file in bytes. */
    public long fileSize() {
        return file.byteSize();
    }

    /** Tensor infos in file order. */
    public List<GgufTensorInfo> tensorInfos() {
        return infos;
    }

    public GgufTensorInfo info(String name) {
        GgufTensorInfo t = byName.get(name);
        if (t == null) {
            throw new QforgeException(path + ": no tensor named '" + printable(name) + "'");
        }
        return t;
    }

    @Override
    public List<String> names() {
        return List.copyOf(byName.keySet());
    }

    @Override
    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** The tensor's bytes, whatever its type (quantized ones are ggml blocks), as a zero-copy slice of the map. */
    public MemorySegment data(String name) {
        return data(info(name));
    }

    public MemorySegment data(GgufTensorInfo t) {
        return file.asSlice(dataStart + t.offset(), t.byteSize());
    }

    /**
     * A Tensor view (row-major shape) of an unquantized tensor: F32, F16, BF16, F64 or an integer type.
     * Quantized tensors are an error; read their blocks with {@link #data(String)}.
     */
    @Override
    public Tensor tensor(String name) {
        GgufTensorInfo t = info(name);
        DType dtype = dtypeOf(t.type());
        if (dtype == null) {
            throw new QforgeException(path + ": tensor '" + printable(name) + "' is " + t.type()
                    + ", a quantized type without an element view");
        }
        return new Tensor(name, dtype, t.shape(), data(t));
    }

    /** The element type of an unquantized ggml type, or null for a block-quantized one. */
    public static DType dtypeOf(GgmlType type) {
        return switch (type) {
            case F32 -> DType.F32;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            case F64 -> DType.F64;
            case I8 -> DType.I8;
            case I16 -> DType.I16;
            case I32 -> DType.I32;
            case I64 -> DType.I64;
            default -> null;
        };
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
        }
    }
}
