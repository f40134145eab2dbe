package dev.qforge.format;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.tensor.DType;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a safetensors file: header padded with spaces to a multiple of 8 bytes (so tensor data is
 * aligned), tensors in the order they were added, contiguous. Tensor bytes are streamed from each
 * entry's producer, so files larger than memory can be written. The file appears only when complete.
 */
public final class SafetensorsWriter {
    private record Entry(String name, DType dtype, long[] shape, long bytes, AtomicFile.Producer content) {
    }

    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final List<Entry> entries = new ArrayList<>();
    private final Set<String> names = new HashSet<>();

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    /** Adds a tensor whose little-endian bytes the producer writes; it must write exactly dtype × shape bytes. */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, AtomicFile.Producer content) {
        if (!names.add(name) || name.equals(SafetensorsFile.METADATA_KEY)) {
            throw new IllegalArgumentException("duplicate or reserved tensor name " + name);
        }
        long count = 1;
        for (long d : shape) {
            count = Math.multiplyExact(count, d);
        }
        entries.add(new Entry(name, dtype, shape.clone(), Math.multiplyExact(count, (long) dtype.byteSize()), content));
        return this;
    }

    /** Adds an F32 tensor from an array. */
    public SafetensorsWriter addF32(String name, long[] shape, float[] values) {
        return add(name, DType.F32, shape, out -> FloatEncoding.writeF32(out, values, 0, values.length));
    }

    public void write(Path target) {
        AtomicFile.write(target, this::writeTo);
    }

    /** Writes the header and every tensor to {@code out}. */
    public void writeTo(OutputStream out) throws IOException {
        writeHeader(out);
        for (Entry e : entries) {
            CountingStream counted = new CountingStream(out);
            e.content.writeTo(counted);
            if (counted.count != e.bytes) {
                throw new IllegalStateException("tensor " + e.name + " wrote " + counted.count + " bytes, expected " + e.bytes);
            }
        }
    }

    /** Writes only the length and JSON header; the caller then writes the tensors' bytes in order. */
    public void writeHeader(OutputStream out) throws IOException {
        byte[] header = header();
        writeLongLE(out, header.length);
        out.write(header);
    }

    private byte[] header() {
        ObjectNode root = JsonFiles.mapper().createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsFile.METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode t = root.putObject(e.name);
            t.put("dtype", e.dtype.name());
            ArrayNode shape = t.putArray("shape");
            Arrays.stream(e.shape).forEach(shape::add);
            ArrayNode offsets = t.putArray("data_offsets");
            offsets.add(offset);
            offsets.add(offset + e.bytes);
            offset += e.bytes;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        byte[] header = Arrays.copyOf(json, padded);
        Arrays.fill(header, json.length, padded, (byte) ' ');
        return header;
    }

    private static void writeLongLE(OutputStream out, long v) throws IOException {
        for (int i = 0; i < 8; i++) {
            out.write((int) (v >>> (8 * i)));
        }
    }

    private static final class CountingStream extends FilterOutputStream {
        long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
