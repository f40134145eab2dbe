package dev.qforge.format;

import dev.qforge.QforgeException;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every way a safetensors file can lie gets a one-line error naming the file. */
class SafetensorsValidationTest {
    @TempDir
    Path dir;

    private Path file(String header, int dataBytes) throws IOException {
        return raw(header.getBytes(StandardCharsets.UTF_8), header.length(), dataBytes);
    }

    private Path raw(byte[] header, long declaredLength, int dataBytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(declaredLength).array());
        out.write(header);
        out.write(new byte[dataBytes]);
        Path p = dir.resolve("m" + System.nanoTime() + ".safetensors");
        Files.write(p, out.toByteArray());
        return p;
    }

    private void assertRejected(Path p, String fragment) {
        QforgeException e = assertThrows(QforgeException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().startsWith(p.toString()), "message names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' should mention '" + fragment + "'");
        assertFalse(e.getMessage().contains("\n"), "one line");
    }

    @Test
    void acceptsWellFormedFile() throws IOException {
        Path p = file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"__metadata__\":{\"k\":\"v\"}}", 8);
        try (var f = SafetensorsFile.open(p)) {
            assertEquals(2, f.tensor("a").elementCount());
            assertEquals("v", f.metadata().get("k"));
        }
    }

    @Test
    void rejectsTooShortFile() throws IOException {
        Path p = dir.resolve("short.safetensors");
        Files.write(p, new byte[5]);
        assertRejected(p, "too short");
    }

    @Test
    void rejectsHeaderLongerThanFile() throws IOException {
        assertRejected(raw("{}".getBytes(), 5000, 0), "past the end");
    }

    @Test
    void rejectsAbsurdHeaderLength() throws IOException {
        assertRejected(raw("{}".getBytes(), Long.MAX_VALUE, 0), "not plausible");
        assertRejected(raw("{}".getBytes(), -1, 0), "not plausible");
    }

    @Test
    void rejectsInvalidJson() throws IOException {
        assertRejected(file("{\"a\": [1, 2", 0), "not valid JSON");
        assertRejected(file("[1, 2, 3, 4]", 0), "not a JSON object");
    }

    @Test
    void rejectsDuplicateNames() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "not valid JSON");
    }

    @Test
    void rejectsUnknownDtype() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "unknown dtype 'Q4'");
    }

    @Test
    void rejectsOffsetsOutOfRange() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8), "outside the data");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8), "outside the data");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8), "outside the data");
    }

    @Test
    void rejectsByteLengthThatDisagreesWithShape() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8), "data_offsets span 8");
    }

    @Test
    void rejectsShapeOverflow() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8), "overflows");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8), "invalid dimension");
    }

    @Test
    void rejectsOverlapsGapsAndUncoveredData() throws IOException {
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12), "overlaps");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8), "gap of 4 bytes");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8), "cover 4 bytes but the data section is 8");
    }

    @Test
    void rejectsMalformedEntries() throws IOException {
        assertRejected(file("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "no dtype");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "no shape");
        assertRejected(file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "data_offsets");
        assertRejected(file("{\"a\":7}", 0), "not a JSON object");
        assertRejected(file("{\"__metadata__\":{\"k\":1}}", 0), "not a string");
    }

    @Test
    void missingFileIsReported() {
        Path p = dir.resolve("absent.safetensors");
        QforgeException e = assertThrows(QforgeException.class, () -> SafetensorsFile.open(p));
        assertTrue(e.getMessage().contains("no such file"));
    }

    @Test
    void writerRoundTripsAllFloatDtypesAndPadsHeader() throws IOException {
        Path p = dir.resolve("out.safetensors");
        float[] values = {1.5f, -2.25f, 0f, 65504f, 1e-3f, 3.0e38f};
        new SafetensorsWriter()
                .metadata("format", "pt")
                .addF32("f32", new long[]{2, 3}, values)
                .add("bf16", DType.BF16, new long[]{6}, out -> FloatEncoding.writeBf16(out, values, 0, 6))
                .add("f16", DType.F16, new long[]{6}, out -> FloatEncoding.writeF16(out, values, 0, 6))
                .write(p);
        byte[] bytes = Files.readAllBytes(p);
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, headerLength % 8, "header padded to 8 bytes");
        try (var f = SafetensorsFile.open(p)) {
            assertEquals(java.util.List.of("f32", "bf16", "f16"), f.names());
            assertArrayEquals(values, f.tensor("f32").toFloatArray());
            Tensor bf16 = f.tensor("bf16");
            for (int i = 0; i < values.length; i++) {
                assertEquals(values[i], bf16.getFloat(i), Math.abs(values[i]) / 128);
            }
            assertEquals(1.5f, f.tensor("f16").getFloat(0));
            assertEquals(65504f, f.tensor("f16").getFloat(3));
            assertEquals("pt", f.metadata().get("format"));
        }
        try (var list = Files.list(dir)) {
            assertEquals(1, list.count(), "no temporary file left behind");
        }
    }

    @Test
    void failedWriteLeavesNothing() throws IOException {
        Path p = dir.resolve("broken.safetensors");
        Files.writeString(p, "previous content");
        SafetensorsWriter w = new SafetensorsWriter().add("a", DType.F32, new long[]{4}, out -> out.write(new byte[3]));
        assertThrows(IllegalStateException.class, () -> w.write(p));
        assertEquals("previous content", Files.readString(p), "the old file is untouched");
        try (var list = Files.list(dir)) {
            assertEquals(1, list.count(), "no temporary file left behind");
        }
    }
}
