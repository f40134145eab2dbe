package dev.qforge.format;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.qforge.QforgeException;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One safetensors file, memory-mapped: an 8-byte little-endian header length, a JSON header that maps
 * each tensor name to its dtype, shape and byte range, then the tensor bytes. Tensors are zero-copy
 * views into the mapping. The header is validated strictly before anything is read through it, because
 * a header that lies about offsets would otherwise point reads outside the data.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Headers of real checkpoints are well under 10 MB; anything near this is corrupt or hostile. */
    static final long MAX_HEADER_BYTES = 100L << 20;
    static final String METADATA_KEY = "__metadata__";

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    private final Path path;
    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> metadata;
    private final long dataStart;

    private SafetensorsFile(Path path, Arena arena, Map<String, Tensor> tensors, Map<String, String> metadata,
                            long dataStart) {
        this.path = path;
        this.arena = arena;
        this.tensors = tensors;
        this.metadata = metadata;
        this.dataStart = dataStart;
    }

    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = channel.size();
            MemorySegment file = size == 0 ? MemorySegment.NULL : MappedFiles.mapReadOnly(channel, 0, size, arena);
            SafetensorsFile result = parse(path, file, size, arena);
            return result;
        } catch (NoSuchFileException e) {
            arena.close();
            throw new QforgeException(path + ": no such file");
        } catch (IOException e) {
            arena.close();
            throw new QforgeException(path + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static SafetensorsFile parse(Path path, MemorySegment file, long size, Arena arena) {
        if (size < 8) {
            throw error(path, "file is " + size + " bytes, too short for a safetensors header");
        }
        long headerLength = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength < 2 || headerLength > MAX_HEADER_BYTES) {
            throw error(path, "header length " + Long.toUnsignedString(headerLength) + " is not plausible (not a safetensors file?)");
        }
        if (headerLength > size - 8) {
            throw error(path, "header length " + headerLength + " runs past the end of the file (" + size + " bytes; truncated?)");
        }
        byte[] headerBytes = file.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(headerBytes);
        } catch (JsonProcessingException e) {
            throw error(path, "header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw error(path, "header is not valid JSON: " + e.getMessage());
        }
        if (header == null || !header.isObject()) {
            throw error(path, "header is not a JSON object");
        }
        long dataStart = 8 + headerLength;
        long dataSize = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            if (field.getKey().equals(METADATA_KEY)) {
                readMetadata(path, field.getValue(), metadata);
            } else {
                entries.add(readEntry(path, field.getKey(), field.getValue(), dataSize));
            }
        }
        checkLayout(path, entries, dataSize);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Entry e : entries) {
            MemorySegment slice = dataSize == 0 ? MemorySegment.ofArray(new byte[0]) : file.asSlice(dataStart + e.begin, e.end - e.begin);
            tensors.put(e.name, new Tensor(e.name, e.dtype, e.shape, slice));
        }
        return new SafetensorsFile(path, arena, Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata), dataStart);
    }

    private record Entry(String name, DType dtype, long[] shape, long begin, long end) {
    }

    private static void readMetadata(Path path, JsonNode node, Map<String, String> metadata) {
        if (!node.isObject()) {
            throw error(path, METADATA_KEY + " is not a JSON object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            if (!f.getValue().isTextual()) {
                throw error(path, METADATA_KEY + "." + f.getKey() + " is not a string");
            }
            metadata.put(f.getKey(), f.getValue().asText());
        }
    }

    private static Entry readEntry(Path path, String name, JsonNode node, long dataSize) {
        String where = "tensor '" + name + "'";
        if (!node.isObject()) {
            throw error(path, where + " is not a JSON object");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw error(path, where + " has no dtype");
        }
        DType dtype = DType.fromSafetensorsName(dtypeNode.asText());
        if (dtype == null) {
            throw error(path, where + " has unknown dtype '" + dtypeNode.asText() + "'");
        }
        JsonNode shapeNode = node.get("shape");
        if (shapeNode == null || !shapeNode.isArray()) {
            throw error(path, where + " has no shape array");
        }
        long[] shape = new long[shapeNode.size()];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
                throw error(path, where + " has an invalid dimension " + d);
            }
            shape[i] = d.asLong();
            try {
                count = Math.multiplyExact(count, shape[i]);
            } catch (ArithmeticException e) {
                throw error(path, where + " has a shape whose element count overflows");
            }
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(count, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw error(path, where + " has a shape whose byte size overflows");
        }
        JsonNode offsets = node.get("data_offsets");
        if (offsets == null || !offsets.isArray() || offsets.size() != 2
                || !offsets.get(0).isIntegralNumber() || !offsets.get(1).isIntegralNumber()
                || !offsets.get(0).canConvertToLong() || !offsets.get(1).canConvertToLong()) {
            throw error(path, where + " has no valid data_offsets [begin, end]");
        }
        long begin = offsets.get(0).asLong();
        long end = offsets.get(1).asLong();
        if (begin < 0 || end < begin || end > dataSize) {
            throw error(path, where + " has data_offsets [" + begin + ", " + end + "] outside the data (" + dataSize + " bytes)");
        }
        if (end - begin != bytes) {
            throw error(path, where + " is " + dtype + " " + java.util.Arrays.toString(shape) + " = " + bytes
                    + " bytes, but its data_offsets span " + (end - begin));
        }
        return new Entry(name, dtype, shape, begin, end);
    }

    /** The byte ranges must tile the data exactly: no overlaps, no gaps, nothing left over. */
    private static void checkLayout(Path path, List<Entry> entries, long dataSize) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long expected = 0;
        for (Entry e : sorted) {
            if (e.begin < expected) {
                throw error(path, "tensor '" + e.name + "' overlaps the tensor before it (offset " + e.begin + ")");
            }
            if (e.begin > expected) {
                throw error(path, "gap of " + (e.begin - expected) + " bytes before tensor '" + e.name + "'");
            }
            expected = e.end;
        }
        if (expected != dataSize) {
            throw error(path, "tensors cover " + expected + " bytes but the data section is " + dataSize + " bytes");
        }
    }

    private static QforgeException error(Path path, String problem) {
        return new QforgeException(path + ": " + problem);
    }

    public Path path() {
        return path;
    }

    /** Tensor names in the order of the header. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new QforgeException(path + ": no tensor named '" + name + "'");
        }
        return t;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** Offset of the first tensor byte in the file (8 + header length). */
    public long dataStart() {
        return dataStart;
    }

    @Override
    public void close() {
        arena.close();
    }
}
