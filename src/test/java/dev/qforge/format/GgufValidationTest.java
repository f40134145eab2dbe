package dev.qforge.format;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Every way a GGUF file can lie gets a one-line error naming the file, before anything is allocated from it. */
class GgufValidationTest {
    static final int U8 = 0, U32 = 4, I32 = 5, F32 = 6, BOOL = 7, STRING = 8, ARRAY = 9, U64 = 10;
    static final int T_F32 = 0, T_Q4_0 = 2;

    @TempDir
    Path dir;

    /** Little-endian bytes of a GGUF file, written field by field. */
    static final class Raw {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Raw bytes(byte... b) {
            out.writeBytes(b);
            return this;
        }

        Raw u8(int v) {
            out.write(v);
            return this;
        }

        Raw u32(long v) {
            for (int i = 0; i < 4; i++) {
                out.write((int) (v >>> (8 * i)));
            }
            return this;
        }

        Raw u64(long v) {
            for (int i = 0; i < 8; i++) {
                out.write((int) (v >>> (8 * i)));
            }
            return this;
        }

        Raw str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            return u64(b.length).bytes(b);
        }

        /** Magic, version 3 and the two counts. */
        Raw header(long tensors, long kvs) {
            return bytes((byte) 'G', (byte) 'G', (byte) 'U', (byte) 'F').u32(3).u64(tensors).u64(kvs);
        }

        Raw kvU32(String key, long v) {
            return str(key).u32(U32).u32(v);
        }

        /** A tensor info: name, dims (ggml order), type id, offset. */
        Raw tensor(String name, long[] ne, int type, long offset) {
            str(name).u32(ne.length);
            for (long d : ne) {
                u64(d);
            }
            return u32(type).u64(offset);
        }

        Raw padTo(int alignment) {
            while (out.size() % alignment != 0) {
                out.write(0);
            }
            return this;
        }

        Raw zeros(int n) {
            return bytes(new byte[n]);
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }

    private Path write(byte[] bytes) throws IOException {
        Path p = dir.resolve("m" + System.nanoTime() + ".gguf");
        Files.write(p, bytes);
        return p;
    }

    private Path write(Raw raw) throws IOException {
        return write(raw.toBytes());
    }

    private void assertRejected(Raw raw, String fragment) throws IOException {
        assertRejected(write(raw), fragment);
    }

    private void assertRejected(Path p, String fragment) {
        QforgeException e = assertThrows(QforgeException.class, () -> GgufFile.open(p).close());
        QforgeExceptionAssert.oneLine(p, e, fragment);
    }

    /** A valid file: one key, two F32 tensors of 8 and 4 elements. */
    static Raw valid() {
        return new Raw().header(2, 1).kvU32("general.x", 7)
                .tensor("a", new long[]{8}, T_F32, 0)
                .tensor("b", new long[]{2, 2}, T_F32, 32)
                .padTo(32).zeros(32).zeros(16);
    }

    @Test
    void acceptsTheValidBaseFile() throws IOException {
        try (GgufFile f = GgufFile.open(write(valid()))) {
            assertEquals(7, f.metadata().getInt("general.x"));
            assertEquals(2, f.tensorInfos().size());
            assertEquals(8, f.tensor("a").elementCount());
        }
    }

    @Test
    void rejectsTooShortFiles() throws IOException {
        assertRejected(new Raw(), "too short");
        assertRejected(new Raw().bytes((byte) 'G', (byte) 'G'), "too short");
        assertRejected(new Raw().bytes((byte) 'G', (byte) 'G', (byte) 'U', (byte) 'F').u32(3).u64(0), "too short");
    }

    @Test
    void rejectsBadMagic() throws IOException {
        assertRejected(new Raw().bytes((byte) 'G', (byte) 'G', (byte) 'M', (byte) 'L').u32(3).u64(0).u64(0), "not a GGUF file");
    }

    @Test
    void rejectsUnsupportedVersionsAndBigEndian() throws IOException {
        assertRejected(new Raw().bytes("GGUF".getBytes()).u32(1).u64(0).u64(0), "GGUF version 1 is not supported");
        assertRejected(new Raw().bytes("GGUF".getBytes()).u32(4).u64(0).u64(0), "GGUF version 4 is not supported");
        assertRejected(new Raw().bytes("GGUF".getBytes()).bytes((byte) 0, (byte) 0, (byte) 0, (byte) 3).zeros(16),
                "big-endian");
    }

    @Test
    void rejectsCountsAbsurdForTheFileSize() throws IOException {
        assertRejected(new Raw().header(0, 1L << 40), "metadata count 1099511627776 is absurd");
        assertRejected(new Raw().header(0, -1), "metadata count 18446744073709551615 is absurd");
        assertRejected(new Raw().header(1L << 40, 0), "tensor count 1099511627776 is absurd");
        assertRejected(new Raw().header(Long.MIN_VALUE, 0), "tensor count 9223372036854775808 is absurd");
        // Two kvs' worth of bytes, but three declared tensors need more.
        assertRejected(new Raw().header(3, 0).zeros(60), "tensor count 3 is absurd");
    }

    @Test
    void rejectsStringLengthsPastTheEnd() throws IOException {
        assertRejected(new Raw().header(0, 1).u64(Long.MAX_VALUE).zeros(8), "length 9223372036854775807");
        assertRejected(new Raw().header(0, 1).u64(-1).zeros(8), "length 18446744073709551615");
        assertRejected(new Raw().header(0, 1).str("k").u32(STRING).u64(1000).zeros(10), "past the end of the file");
    }

    @Test
    void rejectsArrayLengthsThatOverflowOrRunPastTheEnd() throws IOException {
        // 2^61 UINT64 values: 2^61 × 8 wraps to 0 in 64 bits.
        assertRejected(new Raw().header(0, 1).str("k").u32(ARRAY).u32(U64).u64(1L << 61).zeros(16),
                "array of 2305843009213693952 UINT64 values");
        assertRejected(new Raw().header(0, 1).str("k").u32(ARRAY).u32(U32).u64(-1).zeros(16), "past the end of the file");
        assertRejected(new Raw().header(0, 1).str("k").u32(ARRAY).u32(STRING).u64(100).zeros(16), "array of 100 STRING");
        assertRejected(new Raw().header(0, 1).str("k").u32(ARRAY).u32(F32).u64(5).zeros(16), "array of 5 FLOAT32");
    }

    @Test
    void rejectsUnknownValueTypes() throws IOException {
        assertRejected(new Raw().header(0, 1).str("k").u32(13).zeros(8), "metadata key 'k' has unknown value type 13");
        assertRejected(new Raw().header(0, 1).str("k").u32(ARRAY).u32(77).u64(1).zeros(8), "array of unknown value type 77");
    }

    @Test
    void rejectsInvalidBooleans() throws IOException {
        assertRejected(new Raw().header(0, 1).str("k").u32(BOOL).u8(2).zeros(8), "BOOL of value 2");
        assertRejected(new Raw().header(0, 1).str("k").u32(ARRAY).u32(BOOL).u64(2).u8(1).u8(9).zeros(8), "BOOL of value 9");
    }

    @Test
    void rejectsArraysNestedTooDeep() throws IOException {
        Raw r = new Raw().header(0, 1).str("k").u32(ARRAY);
        for (int i = 0; i < 20; i++) {
            r.u32(ARRAY).u64(1);
        }
        assertRejected(r.u32(U8).u64(0).zeros(8), "nests arrays more than");
    }

    @Test
    void rejectsDuplicateKeys() throws IOException {
        assertRejected(new Raw().header(0, 2).kvU32("a.b", 1).kvU32("a.b", 2), "duplicate metadata key 'a.b'");
    }

    @Test
    void rejectsBadAlignment() throws IOException {
        assertRejected(new Raw().header(0, 1).kvU32(GgufFile.ALIGNMENT_KEY, 48), "general.alignment = 48 is not a power of two");
        assertRejected(new Raw().header(0, 1).kvU32(GgufFile.ALIGNMENT_KEY, 0), "general.alignment = 0 is not a power of two");
        assertRejected(new Raw().header(0, 1).str(GgufFile.ALIGNMENT_KEY).u32(U64).u64(32), "expected a UINT32");
    }

    @Test
    void rejectsUnknownGgmlTypes() throws IOException {
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{32}, 99, 0).padTo(32).zeros(128),
                "tensor 't' has unknown ggml type id 99");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{32}, 4, 0).padTo(32).zeros(128),
                "unknown ggml type id 4"); // Q4_2, retired
    }

    @Test
    void rejectsBadDimensions() throws IOException {
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{1, 1, 1, 1, 1}, T_F32, 0).padTo(32).zeros(32),
                "5 dimensions");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{4, 0}, T_F32, 0).padTo(32).zeros(32),
                "ne[1] = 0");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{-4L}, T_F32, 0).padTo(32).zeros(32),
                "ne[0] = 18446744073709551612");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{1L << 32, 1L << 32}, T_F32, 0).padTo(32).zeros(32),
                "element count overflows");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{1L << 62}, T_F32, 0).padTo(32).zeros(32),
                "byte size that overflows");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{33, 2}, T_Q4_0, 0).padTo(32).zeros(64),
                "rows of 33 elements, not a multiple of the Q4_0 block size 32");
    }

    @Test
    void rejectsBadTensorNames() throws IOException {
        assertRejected(new Raw().header(1, 0).tensor("x".repeat(64), new long[]{1}, T_F32, 0).padTo(32).zeros(32),
                "a name of 64 bytes");
        assertRejected(new Raw().header(2, 0).tensor("t", new long[]{1}, T_F32, 0).tensor("t", new long[]{1}, T_F32, 32)
                .padTo(32).zeros(64), "duplicate tensor name 't'");
    }

    @Test
    void rejectsMisalignedOutOfRangeAndOverlappingOffsets() throws IOException {
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{1}, T_F32, 4).padTo(32).zeros(64),
                "data offset 4, not a multiple of the alignment 32");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{1}, T_F32, -32).padTo(32).zeros(64),
                "data offset 18446744073709551584, outside the data section");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{1}, T_F32, 64).padTo(32).zeros(64),
                "occupies 4 data bytes from offset 64, outside the data section (64 bytes");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{100}, T_F32, 0).padTo(32).zeros(64),
                "occupies 400 data bytes from offset 0");
        assertRejected(new Raw().header(1, 0).tensor("t", new long[]{1}, T_F32, Long.MAX_VALUE - 31).padTo(32).zeros(64),
                "outside the data section");
        assertRejected(new Raw().header(2, 0).tensor("a", new long[]{16}, T_F32, 0).tensor("b", new long[]{1}, T_F32, 32)
                .padTo(32).zeros(128), "tensor 'b' (data bytes from 32) overlaps tensor 'a' (data bytes [0, 64))");
        // The file ends inside the tensor infos' padding.
        assertRejected(new Raw().header(1, 0).tensor("a", new long[]{1}, T_F32, 0), "past the end of the file");
    }

    /** The map is one segment, so tensors beyond 2 GiB are reachable (a sparse file: no disk is used). */
    @Test
    void readsTensorsPastTwoGiB() throws IOException {
        long far = 5L << 30;
        byte[] header = new Raw().header(2, 0)
                .tensor("near", new long[]{4}, T_F32, 0)
                .tensor("far", new long[]{4}, T_F32, far)
                .padTo(32).toBytes();
        Path p = dir.resolve("big.gguf");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(p.toFile(), "rw")) {
            f.write(header);
            f.seek(header.length + far);
            f.write(new byte[]{0, 0, (byte) 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0});
        }
        try (GgufFile g = GgufFile.open(p)) {
            assertEquals(header.length + far + 16, g.fileSize());
            assertEquals(1f, g.tensor("far").getFloat(0));
            assertEquals(2f, g.tensor("far").getFloat(1));
            assertEquals(0f, g.tensor("near").getFloat(3));
        } finally {
            Files.delete(p);
        }
    }

    @Test
    void namesFromTheFileCannotBreakTheMessageLine() throws IOException {
        assertRejected(new Raw().header(0, 2).kvU32("a\nb", 1).kvU32("a\nb", 2), "duplicate metadata key 'a\\u000ab'");
    }

    /** Cut anywhere, the valid file gives a QforgeException (never another exception), except where it is whole. */
    @Test
    void everyTruncationIsAOneLineError() throws IOException {
        byte[] whole = valid().toBytes();
        for (int n = 0; n < whole.length; n++) {
            Path p = write(Arrays.copyOf(whole, n));
            QforgeException e = assertThrows(QforgeException.class, () -> GgufFile.open(p).close(), "length " + n);
            QforgeExceptionAssert.oneLine(p, e, "");
        }
    }

    /** Random byte flips give either a valid file or a one-line QforgeException: nothing else escapes. */
    @Test
    void randomCorruptionIsRejectedCleanly() throws IOException {
        byte[] whole = new Raw().header(2, 3).kvU32("general.x", 7)
                .str("tok").u32(ARRAY).u32(STRING).u64(2).str("ab").str("c")
                .str("sc").u32(ARRAY).u32(I32).u64(2).u32(1).u32(2)
                .tensor("a", new long[]{8}, T_F32, 0)
                .tensor("b", new long[]{32, 2}, T_Q4_0, 32)
                .padTo(32).zeros(32).zeros(64).toBytes();
        try (GgufFile f = GgufFile.open(write(whole))) {
            assertEquals(2, f.tensorInfos().size());
        }
        Random rnd = new Random(42);
        Path p = dir.resolve("fuzz.gguf");
        for (int iter = 0; iter < 20000; iter++) {
            byte[] b = whole.clone();
            int flips = 1 + rnd.nextInt(3);
            for (int k = 0; k < flips; k++) {
                int at = rnd.nextInt(Math.min(b.length, 200));
                b[at] = rnd.nextInt(4) == 0 ? (byte) 0xFF : (byte) rnd.nextInt(256);
            }
            try (GgufFile f = GgufFile.parse(p, MemorySegment.ofArray(b))) {
                f.tensorInfos().forEach(t -> f.data(t).byteSize());
            } catch (QforgeException e) {
                QforgeExceptionAssert.oneLine(p, e, "");
            }
        }
    }
}
