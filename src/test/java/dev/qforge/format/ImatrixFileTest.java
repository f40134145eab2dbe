package dev.qforge.format;

import dev.qforge.QforgeException;
import dev.qforge.SharedData;
import dev.qforge.kernel.blocks.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama.cpp's legacy .dat imatrix and the GGUF imatrix: read, written, converted, and lies refused. */
class ImatrixFileTest {
    static final String DAT = "reference/qforge-tiny-llama/imatrix-wiki-valid.dat";
    static final String MODEL = "reference/qforge-tiny-llama/gguf/qforge-tiny-llama-Q4_K_M.gguf";

    @TempDir
    Path dir;

    @Test
    void readsTheReferenceLegacyFile() {
        Path p = SharedData.require(DAT);
        Imatrix im = ImatrixFile.read(p);
        assertEquals(56, im.entries().size()); // 8 layers × q, k, v, output, gate, up, down
        assertEquals(List.of("wiki.valid.raw"), im.datasets());
        assertEquals(100, im.chunkCount());
        assertEquals(0, im.chunkSize());
        assertEquals("blk.7.attn_output.weight", im.names().getFirst()); // file order (llama.cpp b4748 did not sort)
        Pattern name = Pattern.compile("blk\\.[0-7]\\.(attn_(q|k|v|output)|ffn_(gate|up|down))\\.weight");
        int wide = 0;
        for (Imatrix.Entry e : im.entries().values()) {
            assertTrue(name.matcher(e.name()).matches(), e.name());
            assertArrayEquals(new long[]{100}, e.counts(), e.name());
            int expectedWidth = e.name().contains("ffn_down") ? 768 : 256;
            assertEquals(expectedWidth, e.columns(), e.name());
            wide += e.columns() == 768 ? 1 : 0;
            for (float m : e.mean()) {
                assertTrue(m > 0 && m < 1000, e.name() + " mean " + m);
            }
        }
        assertEquals(8, wide);
        Imatrix.Entry first = im.entry("blk.7.attn_output.weight");
        assertEquals(4.840856552124023f, first.sumSquares()[0]); // as stored: mean × ncall
        assertEquals(4.840856552124023f / 100, first.mean()[0]);
    }

    @Test
    void legacyRoundTripIsByteIdentical() throws IOException {
        Path p = SharedData.require(DAT);
        Path out = dir.resolve("copy.dat");
        ImatrixFile.writeLegacy(ImatrixFile.read(p), out);
        assertEquals(Files.size(p), Files.size(out));
        assertEquals(-1, Files.mismatch(p, out));
    }

    @Test
    void legacyConvertsToGgufAndBack() throws IOException {
        Imatrix legacy = ImatrixFile.read(SharedData.require(DAT));
        assertThrows(IllegalArgumentException.class, () -> ImatrixFile.writeGguf(legacy, dir.resolve("x.gguf")));
        Imatrix tokens = legacy.withChunkSize(512);
        Path gguf = dir.resolve("imatrix.gguf");
        ImatrixFile.writeGguf(tokens, gguf);

        Imatrix back = ImatrixFile.read(gguf); // detected by its magic
        assertEquals(512, back.chunkSize());
        assertEquals(100, back.chunkCount());
        assertEquals(List.of("wiki.valid.raw"), back.datasets());
        assertEquals(legacy.names(), back.names());
        for (Imatrix.Entry e : back.entries().values()) {
            assertArrayEquals(new long[]{51200}, e.counts());
            // Scaling by a power of two is exact, so the means are the same floats.
            assertArrayEquals(legacy.entry(e.name()).mean(), e.mean(), e.name());
        }
        try (GgufFile f = GgufFile.open(gguf)) {
            GgufMetadata m = f.metadata();
            assertEquals(List.of("general.type", ImatrixFile.KEY_DATASETS, ImatrixFile.KEY_CHUNK_COUNT,
                    ImatrixFile.KEY_CHUNK_SIZE), m.keys());
            assertEquals("imatrix", m.getString("general.type"));
            assertEquals(112, f.tensorInfos().size());
            GgufTensorInfo sum2 = f.info("blk.6.ffn_down.weight.in_sum2");
            assertArrayEquals(new long[]{768}, sum2.ne()); // ggml drops trailing 1s
            assertEquals(GgmlType.F32, sum2.type());
            assertArrayEquals(new long[]{1}, f.info("blk.6.ffn_down.weight.counts").ne());
        }
        // GGUF → GGUF is byte-identical.
        Path gguf2 = dir.resolve("again.gguf");
        ImatrixFile.writeGguf(back, gguf2);
        assertEquals(-1, Files.mismatch(gguf, gguf2));
        // GGUF → legacy gives ncall = 51200 / 512 and values = mean × ncall, within float rounding.
        Path dat = dir.resolve("back.dat");
        ImatrixFile.writeLegacy(back, dat);
        Imatrix again = ImatrixFile.read(dat);
        for (Imatrix.Entry e : again.entries().values()) {
            assertArrayEquals(new long[]{100}, e.counts());
            float[] want = legacy.entry(e.name()).sumSquares();
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], e.sumSquares()[i], Math.ulp(want[i]) * 2, e.name() + "[" + i + "]");
            }
        }
    }

    @Test
    void expertTensorsAndPlainSumsRoundTripThroughGguf() {
        float[] s2 = {1, 2, 3, 4, 5, 6};
        float[] s = {0.5f, -1, 0, 1, 2, 3};
        Imatrix im = new Imatrix(null, List.of(
                new Imatrix.Entry("blk.0.ffn_up_exps.weight", s2, new long[]{10, 0, 20}, s),
                new Imatrix.Entry("blk.0.attn_q.weight", new float[]{8, 16}, 4)),
                List.of("a.txt", "b.txt"), 7, 512);
        Path p = dir.resolve("moe.gguf");
        ImatrixFile.writeGguf(im, p);
        Imatrix back = ImatrixFile.read(p);
        Imatrix.Entry e = back.entry("blk.0.ffn_up_exps.weight");
        assertArrayEquals(s2, e.sumSquares());
        assertArrayEquals(s, e.sums());
        assertArrayEquals(new long[]{10, 0, 20}, e.counts());
        assertEquals(2, e.columns());
        assertArrayEquals(new float[]{0.1f, 0.2f, 1, 1, 0.25f, 0.3f}, e.mean()); // no data → 1, as llama.cpp
        assertNull(back.entry("blk.0.attn_q.weight").sums());
        assertEquals(List.of("a.txt", "b.txt"), back.datasets());
        try (GgufFile f = GgufFile.open(p)) {
            assertArrayEquals(new long[]{2, 3}, f.info("blk.0.ffn_up_exps.weight.in_sum2").ne());
            assertArrayEquals(new long[]{1, 3}, f.info("blk.0.ffn_up_exps.weight.counts").ne());
        }
        // To legacy: ncall = ceil(20 / 512) = 1; values = mean × 1; a matrix without data stores 1.
        Path dat = dir.resolve("moe.dat");
        ImatrixFile.writeLegacy(back, dat);
        Imatrix legacy = ImatrixFile.read(dat);
        assertArrayEquals(new long[]{1}, legacy.entry("blk.0.ffn_up_exps.weight").counts());
        assertArrayEquals(new float[]{0.1f, 0.2f, 1, 1, 0.25f, 0.3f}, legacy.entry("blk.0.ffn_up_exps.weight").sumSquares());
        assertEquals(List.of("b.txt"), legacy.datasets());
    }

    /** Every entry names a weight of the model it was computed on, with as many values as the weight's rows. */
    @Test
    void referenceEntriesFitTheModel() {
        Imatrix im = ImatrixFile.read(SharedData.require(DAT));
        try (GgufFile model = GgufFile.open(SharedData.require(MODEL))) {
            for (Imatrix.Entry e : im.entries().values()) {
                GgufTensorInfo t = model.info(e.name());
                assertEquals(t.ne()[0], e.columns(), e.name());
                assertArrayEquals(e.mean(), im.importance(e.name(), t.ne()[0]));
            }
            assertNull(im.importance("output.weight", 256));
            QforgeException x = assertThrows(QforgeException.class, () -> im.importance("blk.0.attn_q.weight", 768));
            QforgeExceptionAssert.oneLine(im.source(), x, "has 256 values per matrix, but the tensor's rows have 768");
        }
    }

    // ---------------------------------------------------------------- malformed legacy files

    static final class Dat {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Dat i32(int v) {
            for (int i = 0; i < 4; i++) {
                out.write(v >>> (8 * i));
            }
            return this;
        }

        Dat f32(float v) {
            return i32(Float.floatToRawIntBits(v));
        }

        Dat name(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i32(b.length);
            out.writeBytes(b);
            return this;
        }

        Dat entry(String name, int ncall, float... values) {
            name(name).i32(ncall).i32(values.length);
            for (float v : values) {
                f32(v);
            }
            return this;
        }

        Dat bytes(int n) {
            out.writeBytes(new byte[n]);
            return this;
        }

        byte[] toBytes() {
            return out.toByteArray();
        }
    }

    private Path write(byte[] b) throws IOException {
        Path p = dir.resolve("i" + System.nanoTime() + ".dat");
        Files.write(p, b);
        return p;
    }

    private void assertRejected(Dat d, String fragment) throws IOException {
        Path p = write(d.toBytes());
        QforgeException e = assertThrows(QforgeException.class, () -> ImatrixFile.read(p));
        QforgeExceptionAssert.oneLine(p, e, fragment);
    }

    @Test
    void acceptsLegacyFilesWithAndWithoutTheTrailer() throws IOException {
        Imatrix full = ImatrixFile.read(write(new Dat().i32(1).entry("w", 2, 1, 2).i32(5).name("t.txt").toBytes()));
        assertEquals(5, full.chunkCount());
        assertEquals(List.of("t.txt"), full.datasets());
        assertArrayEquals(new float[]{0.5f, 1}, full.entry("w").mean());
        Imatrix bare = ImatrixFile.read(write(new Dat().i32(1).entry("w", 2, 1, 2).toBytes()));
        assertEquals(0, bare.chunkCount());
        assertEquals(List.of(), bare.datasets());
        Imatrix noName = ImatrixFile.read(write(new Dat().i32(1).entry("w", 2, 1, 2).i32(3).toBytes()));
        assertEquals(3, noName.chunkCount());
        // ncall 0: llama-quantize takes the values as they are; the entry survives a rewrite.
        byte[] zero = new Dat().i32(2).entry("z", 0, 3, 4).entry("w", 2, 1, 2).i32(1).name("d").toBytes();
        Imatrix z = ImatrixFile.read(write(zero));
        assertArrayEquals(new float[]{3, 4}, z.importance("z", 2));
        assertArrayEquals(new float[]{0.5f, 1}, z.importance("w", 2));
        Path out = dir.resolve("zero.dat");
        ImatrixFile.writeLegacy(z, out);
        assertArrayEquals(zero, Files.readAllBytes(out));
    }

    @Test
    void rejectsBadEntryCounts() throws IOException {
        assertRejected(new Dat().i32(-1).bytes(40), "entry count -1 is negative");
        assertRejected(new Dat().i32(0), "no entries");
        assertRejected(new Dat().i32(1_000_000).entry("w", 1, 1), "entry count 1000000 is absurd");
        assertRejected(new Dat(), "entry count at offset 0 runs past the end");
    }

    @Test
    void rejectsBadNames() throws IOException {
        assertRejected(new Dat().i32(1).i32(-5).bytes(20), "name length -5");
        assertRejected(new Dat().i32(1).i32(0).bytes(20), "name length 0");
        assertRejected(new Dat().i32(1).i32(1 << 30).bytes(20), "name length 1073741824 at offset 4, past the end");
        assertRejected(new Dat().i32(2).entry("w", 1, 1).entry("w", 1, 1), "duplicate entry 'w'");
    }

    @Test
    void rejectsBadCountsAndValues() throws IOException {
        assertRejected(new Dat().i32(1).entry("w", -3, 1), "entry 'w' has a negative call count -3");
        assertRejected(new Dat().i32(1).name("w").i32(1).i32(0).bytes(8), "entry 'w' has 0 values");
        assertRejected(new Dat().i32(1).name("w").i32(1).i32(-7).bytes(8), "entry 'w' has -7 values");
        assertRejected(new Dat().i32(1).name("w").i32(1).i32(1 << 29).bytes(8), "entry 'w' has 536870912 values");
        assertRejected(new Dat().i32(1).entry("w", 1, 1, Float.NaN), "entry 'w' has value NaN at column 1");
        assertRejected(new Dat().i32(1).entry("w", 1, -2), "entry 'w' has value -2.0 at column 0");
        assertRejected(new Dat().i32(1).entry("w", 1, Float.POSITIVE_INFINITY), "value Infinity");
    }

    @Test
    void rejectsBadTrailers() throws IOException {
        assertRejected(new Dat().i32(1).entry("w", 1, 1).i32(-1), "chunk count after the entries is negative");
        assertRejected(new Dat().i32(1).entry("w", 1, 1).bytes(2), "chunk count after the entries at offset 21 runs past");
        assertRejected(new Dat().i32(1).entry("w", 1, 1).i32(1).i32(99).bytes(3), "dataset name length 99");
        assertRejected(new Dat().i32(1).entry("w", 1, 1).i32(1).name("d").bytes(5), "5 unexpected bytes");
    }

    /** Cut anywhere but at the optional trailer's boundaries, a legacy file is a one-line error. */
    @Test
    void everyTruncationIsAOneLineError() throws IOException {
        byte[] whole = new Dat().i32(2).entry("a", 1, 1, 2).entry("bb", 3, 4).i32(9).name("data").toBytes();
        int entriesEnd = 4 + (4 + 1 + 8 + 8) + (4 + 2 + 8 + 4);
        for (int n = 0; n < whole.length; n++) {
            Path p = write(Arrays.copyOf(whole, n));
            if (n == entriesEnd || n == entriesEnd + 4) {
                assertEquals(2, ImatrixFile.read(p).entries().size());
                continue;
            }
            QforgeException e = assertThrows(QforgeException.class, () -> ImatrixFile.read(p), "length " + n);
            QforgeExceptionAssert.oneLine(p, e, "");
        }
    }

    // ---------------------------------------------------------------- malformed GGUF imatrix files

    private void assertGgufRejected(GgufWriter w, String fragment) {
        Path p = dir.resolve("g" + System.nanoTime() + ".gguf");
        w.write(p);
        QforgeException e = assertThrows(QforgeException.class, () -> ImatrixFile.read(p));
        QforgeExceptionAssert.oneLine(p, e, fragment);
    }

    @Test
    void rejectsInconsistentGgufImatrices() {
        assertGgufRejected(new GgufWriter().putString("general.type", "imatrix")
                .addTensor("w.in_sum2", GgmlType.F32, new long[]{2}, f32(1, 2)), "entry 'w' has no .counts tensor");
        assertGgufRejected(new GgufWriter()
                .addTensor("w.counts", GgmlType.F32, new long[]{1}, f32(1)), "entry 'w' has no .in_sum2 tensor");
        assertGgufRejected(new GgufWriter()
                .addTensor("w.in_sum2", GgmlType.F32, new long[]{3}, f32(1, 2, 3))
                .addTensor("w.counts", GgmlType.F32, new long[]{1, 2}, f32(1, 1)), "3 sums of squares, not a multiple of its 2 counts");
        assertGgufRejected(new GgufWriter()
                .addTensor("w.in_sum2", GgmlType.F32, new long[]{2}, f32(1, 2))
                .addTensor("w.counts", GgmlType.F32, new long[]{1}, f32(-4)), "count -4.0");
        assertGgufRejected(new GgufWriter()
                .addTensor("w.in_sum2", GgmlType.F32, new long[]{2}, f32(1, Float.NaN))
                .addTensor("w.counts", GgmlType.F32, new long[]{1}, f32(4)), "value NaN at column 1");
        assertGgufRejected(new GgufWriter()
                .addTensor("w.in_sum2", GgmlType.F32, new long[]{2}, f32(1, 2))
                .addTensor("w.counts", GgmlType.F32, new long[]{1}, f32(4))
                .addTensor("w.in_sum", GgmlType.F32, new long[]{3}, f32(1, 2, 3)), "3 sums but 2 sums of squares");
        assertGgufRejected(new GgufWriter()
                .addTensor("w.in_sum2", GgmlType.F16, new long[]{2}, out -> out.write(new byte[4]))
                .addTensor("w.counts", GgmlType.F32, new long[]{1}, f32(4)), "'w.in_sum2' is F16, expected F32");
        assertGgufRejected(new GgufWriter().put(ImatrixFile.KEY_CHUNK_SIZE, GgufValue.string("512"))
                .addTensor("w.in_sum2", GgmlType.F32, new long[]{2}, f32(1, 2))
                .addTensor("w.counts", GgmlType.F32, new long[]{1}, f32(4)), "'imatrix.chunk_size' is a STRING");
    }

    @Test
    void aModelIsNotAnImatrix() {
        Path p = SharedData.require("reference/stories260K/gguf/stories260K-Q2_K.gguf");
        QforgeException e = assertThrows(QforgeException.class, () -> ImatrixFile.read(p));
        QforgeExceptionAssert.oneLine(p, e, "no imatrix tensors");
        assertTrue(e.getMessage().contains("general.type is 'model'"), e.getMessage());
    }

    private static AtomicFile.Producer f32(float... v) {
        return out -> FloatEncoding.writeF32(out, v, 0, v.length);
    }
}
