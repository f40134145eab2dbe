package dev.qforge.format;

import dev.qforge.SharedData;
import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What GgufWriter writes, GgufFile reads back; a copy of a llama.cpp file is the same bytes. */
class GgufRoundTripTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {
            "stories260K/gguf/stories260K-F32.gguf", "stories260K/gguf/stories260K-F16.gguf",
            "stories260K/gguf/stories260K-Q4_K_M.gguf", "stories260K/gguf/stories260K-Q2_K.gguf",
            "qforge-tiny-llama/gguf/qforge-tiny-llama-Q8_0.gguf", "qforge-tiny-llama/gguf/qforge-tiny-llama-Q4_0.gguf",
            "qforge-tiny-llama/gguf/qforge-tiny-llama-Q4_K_M.gguf",
            "qforge-tiny-llama/gguf/qforge-tiny-llama-Q4_K_M-imatrix.gguf",
            "qforge-tiny-llama/gguf/qforge-tiny-llama-IQ4_XS-imatrix.gguf",
            "qforge-tiny-llama/gguf/qforge-tiny-llama-Q2_K-imatrix.gguf"})
    void rewritingAReferenceFileGivesTheSameBytes(String file) throws IOException {
        Path source = SharedData.require("reference/" + file);
        Path copy = dir.resolve("copy.gguf");
        try (GgufFile f = GgufFile.open(source)) {
            GgufWriter.copyOf(f).write(copy);
        }
        assertEquals(Files.size(source), Files.size(copy));
        assertEquals(-1, Files.mismatch(source, copy), "first differing byte");
    }

    @Test
    void everyValueTypeRoundTrips() {
        GgufValue nested = GgufValue.array(GgufValueType.ARRAY, new GgufValue[]{
                GgufValue.stringArray(List.of("a", "bc")),
                GgufValue.stringArray(List.of()),
                GgufValue.array(GgufValueType.ARRAY, new GgufValue[]{GgufValue.int32Array(new int[]{7})})});
        GgufWriter w = new GgufWriter()
                .put("t.u8", GgufValue.uint8(250))
                .put("t.i8", GgufValue.int8(-5))
                .put("t.u16", GgufValue.uint16(65000))
                .put("t.i16", GgufValue.int16(-300))
                .put("t.u32", GgufValue.uint32(4_000_000_000L))
                .put("t.i32", GgufValue.int32(-7))
                .put("t.u64", GgufValue.uint64(-1L))
                .put("t.i64", GgufValue.int64(Long.MIN_VALUE))
                .put("t.f32", GgufValue.float32(Float.intBitsToFloat(0x7fc00001)))
                .put("t.f64", GgufValue.float64(-2.5e300))
                .put("t.bool", GgufValue.bool(true))
                .put("t.str", GgufValue.string("héllo"))
                .put("t.bytes", GgufValue.string(new byte[]{(byte) 0xE2, (byte) 0x96})) // a token that is half a character
                .put("t.bools", GgufValue.array(GgufValueType.BOOL, new byte[]{0, 1, 1}))
                .put("t.u16s", GgufValue.array(GgufValueType.UINT16, new short[]{1, -1}))
                .put("t.u64s", GgufValue.array(GgufValueType.UINT64, new long[]{1, -1}))
                .put("t.f64s", GgufValue.array(GgufValueType.FLOAT64, new double[]{0.5, -0.0}))
                .put("t.f32s", GgufValue.float32Array(new float[]{1f, 2f}))
                .put("t.empty", GgufValue.uint32Array(new int[0]))
                .put("t.nested", nested);
        Path p = dir.resolve("all.gguf");
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            GgufMetadata m = f.metadata();
            assertEquals(List.of("t.u8", "t.i8", "t.u16", "t.i16", "t.u32", "t.i32", "t.u64", "t.i64", "t.f32", "t.f64",
                    "t.bool", "t.str", "t.bytes", "t.bools", "t.u16s", "t.u64s", "t.f64s", "t.f32s", "t.empty", "t.nested"), m.keys());
            assertEquals(250, m.getInt("t.u8"));
            assertEquals(-5, m.getInt("t.i8"));
            assertEquals(65000, m.getInt("t.u16"));
            assertEquals(-300, m.getInt("t.i16"));
            assertEquals(4_000_000_000L, m.getLong("t.u32"));
            assertEquals(-7, m.getInt("t.i32"));
            assertEquals(Long.MIN_VALUE, m.getLong("t.i64"));
            assertEquals(0x7fc00001, Float.floatToRawIntBits(m.getFloat("t.f32")));
            assertEquals(-2.5e300, m.getDouble("t.f64"));
            assertTrue(m.getBool("t.bool"));
            assertEquals("héllo", m.getString("t.str"));
            assertArrayEquals(new byte[]{(byte) 0xE2, (byte) 0x96}, m.get("t.bytes").stringBytesAt(0));
            assertTrue(m.getArray("t.bools").boolAt(2));
            assertEquals(65535, m.getArray("t.u16s").longAt(1));
            assertArrayEquals(new float[]{1f, 2f}, m.getFloatArray("t.f32s"));
            assertArrayEquals(new float[]{0.5f, -0.0f}, m.getFloatArray("t.f64s"));
            assertEquals(0, m.getIntArray("t.empty").length);
            GgufValue n = m.getArray("t.nested");
            assertEquals(GgufValueType.ARRAY, n.elementType());
            assertEquals(List.of("a", "bc"), n.arrayAt(0).toStringList());
            assertEquals(7, n.arrayAt(2).arrayAt(0).longAt(0));
            // Every value equals what was put.
            GgufWriter again = new GgufWriter();
            m.asMap().forEach(again::put);
            assertEquals(m.asMap().get("t.nested"), nested);
            // Typed accessors refuse what does not fit.
            Path path = f.path();
            QforgeExceptionAssert.oneLine(path, assertThrows(dev.qforge.QforgeException.class, () -> m.getInt("t.u32")),
                    "'t.u32' value 4000000000 does not fit a 32-bit int");
            QforgeExceptionAssert.oneLine(path, assertThrows(dev.qforge.QforgeException.class, () -> m.getLong("t.u64")),
                    "does not fit a 64-bit signed integer");
            QforgeExceptionAssert.oneLine(path, assertThrows(dev.qforge.QforgeException.class, () -> m.getIntArray("t.u64s")),
                    "element 1");
            QforgeExceptionAssert.oneLine(path, assertThrows(dev.qforge.QforgeException.class, () -> m.getFloat("t.str")),
                    "is a STRING, expected a FLOAT32");
            QforgeExceptionAssert.oneLine(path, assertThrows(dev.qforge.QforgeException.class, () -> m.getStringArray("t.f32s")),
                    "is an array of FLOAT32, expected an array of STRING");
            QforgeExceptionAssert.oneLine(path, assertThrows(dev.qforge.QforgeException.class, () -> m.getArray("t.bool")),
                    "expected an array");
            assertEquals(3, m.getInt("t.absent", 3));
        }
        // And the bytes of a rewrite are the same.
        Path p2 = dir.resolve("again.gguf");
        try (GgufFile f = GgufFile.open(p)) {
            GgufWriter.copyOf(f).write(p2);
        }
        assertEqualFiles(p, p2);
    }

    @Test
    void tensorsOfEveryLayoutRoundTrip() throws IOException {
        float[] a = new float[3 * 5];
        for (int i = 0; i < a.length; i++) {
            a[i] = i * 0.25f - 1;
        }
        byte[] q8 = new byte[2 * 34]; // Q8_0: two rows of one 32-block
        for (int i = 0; i < q8.length; i++) {
            q8[i] = (byte) (i * 7);
        }
        GgufWriter w = new GgufWriter().version(2)
                .putUInt32(GgufFile.ALIGNMENT_KEY, 64)
                .putString("general.architecture", "test")
                .addTensor(new Tensor("a", DType.F32, new long[]{3, 5}, MemorySegment.ofArray(a)))
                .addTensor("q", GgmlType.Q8_0, new long[]{32, 2}, MemorySegment.ofArray(q8))
                .addTensor("h", GgmlType.F16, new long[]{3}, out -> out.write(new byte[]{1, 2, 3, 4, 5, 6}))
                .addTensor("v4", GgmlType.I32, new long[]{1, 2, 1, 2}, out -> out.write(new byte[16]));
        Path p = dir.resolve("t.gguf");
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            assertEquals(2, f.version());
            assertEquals(64, f.alignment());
            assertEquals(0, f.dataStart() % 64);
            assertEquals(List.of("a", "q", "h", "v4"), f.names());
            Tensor t = f.tensor("a");
            assertArrayEquals(new long[]{3, 5}, t.shape());
            assertArrayEquals(new long[]{5, 3}, f.info("a").ne());
            assertArrayEquals(a, t.toFloatArray());
            assertEquals(0, f.info("a").offset());
            assertEquals(64, f.info("q").offset());
            assertEquals(64 + 128, f.info("h").offset());
            assertEquals(64 + 128 + 64, f.info("v4").offset());
            assertArrayEquals(q8, f.data("q").toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            assertTrue(f.data("q").isReadOnly());
            // tensors are views of a plain native segment (MappedFiles), the class of allocated memory
            assertEquals(java.lang.foreign.Arena.global().allocate(1).getClass(), f.data("q").getClass());
            assertEquals(DType.F16, f.tensor("h").dtype());
            assertArrayEquals(new long[]{2, 1, 2, 1}, f.tensor("v4").shape());
            assertEquals(4, f.info("v4").nDims());
            assertEquals(f.dataStart() + 64 * 5, Files.size(p));
        }
    }

    @Test
    void writerRefusesWhatReadersWouldRefuse() {
        GgufWriter w = new GgufWriter();
        assertThrows(IllegalArgumentException.class, () -> w.put(GgufFile.ALIGNMENT_KEY, GgufValue.uint32(24)));
        assertThrows(IllegalArgumentException.class, () -> w.put(GgufFile.ALIGNMENT_KEY, GgufValue.uint64(32)));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("q", GgmlType.Q4_K, new long[]{100}, out -> { }));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("x".repeat(64), GgmlType.F32, new long[]{1}, out -> { }));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("z", GgmlType.F32, new long[]{0}, out -> { }));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("d", GgmlType.F32, new long[]{1, 1, 1, 1, 1}, out -> { }));
        w.addTensor("ok", GgmlType.F32, new long[]{1}, out -> out.write(new byte[4]));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("ok", GgmlType.F32, new long[]{1}, out -> { }));
        assertThrows(IllegalArgumentException.class,
                () -> w.addTensor("seg", GgmlType.F32, new long[]{2}, MemorySegment.ofArray(new byte[4])));
        assertThrows(IllegalStateException.class, () -> w.put(GgufFile.ALIGNMENT_KEY, GgufValue.uint32(64)));
        // A producer that writes the wrong number of bytes leaves no file behind.
        w.addTensor("short", GgmlType.F32, new long[]{2}, out -> out.write(new byte[4]));
        Path p = dir.resolve("bad.gguf");
        assertThrows(IllegalStateException.class, () -> w.write(p));
        assertFalse(Files.exists(p));
    }

    private static void assertEqualFiles(Path a, Path b) {
        try {
            assertEquals(-1, Files.mismatch(a, b));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
