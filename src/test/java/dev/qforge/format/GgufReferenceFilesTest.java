package dev.qforge.format;

import dev.qforge.SharedData;
import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.numeric.FloatBits;
import dev.qforge.tensor.DType;
import dev.qforge.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama.cpp's GGUF files read back exactly as gguf-py's dump of them describes. */
class GgufReferenceFilesTest {
    static final String STORIES = "reference/stories260K/";
    static final String TINY = "reference/qforge-tiny-llama/";

    /** One line of gguf_dump.py: index, type, count, key and (for scalars) value. */
    record DumpEntry(String type, long count, String key, String value) {
    }

    private static final Pattern DUMP_LINE = Pattern.compile(
            "^\\s*\\d+: (\\[?[A-Z0-9]+]?)\\s*\\|\\s*(\\d+) \\| ([^ =]+)(?: = (.*))?$");

    static List<DumpEntry> parseDump(Path dump) throws IOException {
        List<DumpEntry> out = new ArrayList<>();
        for (String line : Files.readAllLines(dump)) {
            Matcher m = DUMP_LINE.matcher(line);
            if (m.matches()) {
                out.add(new DumpEntry(m.group(1), Long.parseLong(m.group(2)), m.group(3), m.group(4)));
            }
        }
        return out;
    }

    /** Compares every key of the dump with the file; {@code except} keys may differ (quantized files). */
    static void assertMatchesDump(GgufFile f, List<DumpEntry> dump, Set<String> except) {
        GgufMetadata meta = f.metadata();
        for (DumpEntry d : dump) {
            switch (d.key()) {
                case "GGUF.version" -> assertEquals(Long.parseLong(d.value()), f.version());
                case "GGUF.tensor_count" -> assertEquals(Long.parseLong(d.value()), f.tensorInfos().size());
                case "GGUF.kv_count" -> {
                    if (except.isEmpty()) {
                        assertEquals(Long.parseLong(d.value()), meta.size());
                    }
                }
                default -> {
                    if (except.contains(d.key())) {
                        continue;
                    }
                    GgufValue v = meta.get(d.key());
                    assertNotNull(v, "key " + d.key() + " in " + f.path());
                    if (d.type().startsWith("[")) {
                        assertTrue(v.isArray(), d.key());
                        assertEquals(d.type().substring(1, d.type().length() - 1), v.elementType().name(), d.key());
                        assertEquals(d.count(), v.size(), d.key());
                        continue;
                    }
                    assertEquals(d.type(), v.type().name(), d.key());
                    switch (v.type()) {
                        case STRING -> {
                            assertTrue(d.value().startsWith("'") && d.value().endsWith("'"), d.value());
                            assertEquals(d.value().substring(1, d.value().length() - 1), meta.getString(d.key()), d.key());
                        }
                        case FLOAT32 -> assertEquals(Double.parseDouble(d.value()), (double) meta.getFloat(d.key()), 0.0, d.key());
                        case FLOAT64 -> assertEquals(Double.parseDouble(d.value()), meta.getDouble(d.key()), 0.0, d.key());
                        case BOOL -> assertEquals(Boolean.parseBoolean(d.value().toLowerCase()), meta.getBool(d.key()), d.key());
                        default -> assertEquals(Long.parseLong(d.value()), meta.getLong(d.key()), d.key());
                    }
                }
            }
        }
    }

    @Test
    void storiesF32MetadataMatchesTheDumpKeyForKey() throws IOException {
        Path p = SharedData.require(STORIES + "gguf/stories260K-F32.gguf");
        List<DumpEntry> dump = parseDump(SharedData.require(STORIES + "gguf-metadata-llama.cpp.txt"));
        assertEquals(31, dump.size());
        try (GgufFile f = GgufFile.open(p)) {
            assertMatchesDump(f, dump, Set.of());
            // Same keys, same order.
            List<String> dumpKeys = dump.stream().map(DumpEntry::key).filter(k -> !k.startsWith("GGUF.")).toList();
            assertEquals(dumpKeys, f.metadata().keys());
            assertEquals(32, f.alignment());
            assertEquals(0, f.dataStart() % 32);
            GgufMetadata m = f.metadata();
            assertEquals("llama", m.getString("general.architecture"));
            assertEquals(5, m.getInt("llama.block_count"));
            assertEquals(1e-5f, m.getFloat("llama.attention.layer_norm_rms_epsilon"));
            List<String> tokens = m.getStringArray("tokenizer.ggml.tokens");
            assertEquals(512, tokens.size());
            assertEquals(List.of("<unk>", "<s>", "</s>"), tokens.subList(0, 3));
            assertEquals(512, m.getFloatArray("tokenizer.ggml.scores").length);
            assertEquals(512, m.getIntArray("tokenizer.ggml.token_type").length);
            for (GgufTensorInfo t : f.tensorInfos()) {
                assertEquals(GgmlType.F32, t.type(), t.name());
            }
            Tensor emb = f.tensor("token_embd.weight");
            assertEquals(DType.F32, emb.dtype());
            assertArrayEquals(new long[]{512, 64}, emb.shape());
            assertArrayEquals(new long[]{64, 512}, f.info("token_embd.weight").ne());
            assertEquals(512L * 64 * 4, emb.byteSize());
        }
    }

    @Test
    void tinyLlamaFilesMatchTheDumpExceptFileType() throws IOException {
        List<DumpEntry> dump = parseDump(SharedData.require(TINY + "gguf-metadata-llama.cpp.txt"));
        for (String name : List.of("Q8_0", "Q4_0", "Q4_K_M", "Q4_K_M-imatrix", "IQ4_XS-imatrix", "Q2_K-imatrix")) {
            try (GgufFile f = GgufFile.open(SharedData.require(TINY + "gguf/qforge-tiny-llama-" + name + ".gguf"))) {
                assertMatchesDump(f, dump, Set.of("general.file_type"));
                assertEquals(75, f.tensorInfos().size());
                assertEquals(4096, f.metadata().getStringArray("tokenizer.ggml.tokens").size());
                // The file ends with the last tensor padded to the alignment.
                GgufTensorInfo last = f.tensorInfos().getLast();
                assertEquals(f.fileSize(), f.dataStart() + GgufFile.alignUp(last.offset() + last.byteSize(), f.alignment()));
            }
        }
    }

    @Test
    void tinyLlamaQ4KMTensorsMatchTheTensorDump() throws IOException {
        Pattern line = Pattern.compile("^\\s*\\d+:\\s+(\\d+) \\|\\s*(\\d+),\\s*(\\d+),\\s*(\\d+),\\s*(\\d+) \\| (\\w+)\\s*\\| (\\S+)$");
        List<String[]> expected = new ArrayList<>();
        for (String l : Files.readAllLines(SharedData.require(TINY + "gguf-tensors-Q4_K_M.txt"))) {
            Matcher m = line.matcher(l);
            if (m.matches()) {
                expected.add(new String[]{m.group(1), m.group(2), m.group(3), m.group(4), m.group(5), m.group(6), m.group(7)});
            }
        }
        assertEquals(75, expected.size());
        try (GgufFile f = GgufFile.open(SharedData.require(TINY + "gguf/qforge-tiny-llama-Q4_K_M.gguf"))) {
            List<GgufTensorInfo> infos = f.tensorInfos();
            assertEquals(expected.size(), infos.size());
            for (int i = 0; i < infos.size(); i++) {
                String[] e = expected.get(i);
                GgufTensorInfo t = infos.get(i);
                assertEquals(e[6], t.name());
                assertEquals(e[5], t.type().name(), t.name());
                assertEquals(Long.parseLong(e[0]), t.elementCount(), t.name());
                long[] ne4 = {1, 1, 1, 1};
                System.arraycopy(t.ne(), 0, ne4, 0, t.nDims());
                for (int d = 0; d < 4; d++) {
                    assertEquals(Long.parseLong(e[1 + d]), ne4[d], t.name() + " ne[" + d + "]");
                }
                assertEquals(t.byteSize(), f.data(t).byteSize());
            }
            // 256 × 4096 Q6_K: 16 blocks per row of 210 bytes.
            assertEquals(4096L * 256 / 256 * 210, f.info("output.weight").byteSize());
            QforgeExceptionAssert.oneLine(f.path(), assertThrows(dev.qforge.QforgeException.class,
                    () -> f.tensor("output.weight")), "quantized");
            QforgeExceptionAssert.oneLine(f.path(), assertThrows(dev.qforge.QforgeException.class,
                    () -> f.info("nope")), "no tensor named 'nope'");
            QforgeExceptionAssert.oneLine(f.path(), assertThrows(dev.qforge.QforgeException.class,
                    () -> f.metadata().getInt("general.name")), "'general.name' is a STRING, expected an integer");
            QforgeExceptionAssert.oneLine(f.path(), assertThrows(dev.qforge.QforgeException.class,
                    () -> f.metadata().getString("llama.missing")), "'llama.missing' is missing");
        }
    }

    @Test
    void storiesQuantizedFilesHoldTheFallbackTypesTheReadmeNames() {
        record Case(String file, Set<GgmlType> types) {
        }
        for (Case c : List.of(
                new Case("F16", EnumSet.of(GgmlType.F16, GgmlType.F32)),
                new Case("Q4_K_M", EnumSet.of(GgmlType.Q5_0, GgmlType.Q8_0, GgmlType.F16, GgmlType.F32)),
                new Case("Q2_K", EnumSet.of(GgmlType.IQ4_NL, GgmlType.Q8_0, GgmlType.F16, GgmlType.F32)))) {
            try (GgufFile f = GgufFile.open(SharedData.require(STORIES + "gguf/stories260K-" + c.file() + ".gguf"))) {
                assertEquals(47, f.tensorInfos().size());
                Set<GgmlType> seen = EnumSet.noneOf(GgmlType.class);
                f.tensorInfos().forEach(t -> seen.add(t.type()));
                assertEquals(c.types(), seen, c.file());
            }
        }
    }

    /** The F16 file's halves are the F32 file's floats rounded to nearest: checks the data offsets and the views. */
    @Test
    void storiesF16TensorsAreTheF32TensorsRounded() {
        try (GgufFile f32 = GgufFile.open(SharedData.require(STORIES + "gguf/stories260K-F32.gguf"));
             GgufFile f16 = GgufFile.open(SharedData.require(STORIES + "gguf/stories260K-F16.gguf"))) {
            int compared = 0;
            for (GgufTensorInfo t : f16.tensorInfos()) {
                Tensor a = f32.tensor(t.name());
                Tensor b = f16.tensor(t.name());
                assertArrayEquals(a.shape(), b.shape(), t.name());
                if (t.type() == GgmlType.F32) {
                    assertEquals(-1, a.data().mismatch(b.data()), t.name());
                    continue;
                }
                assertEquals(DType.F16, b.dtype());
                MemorySegment halves = b.data();
                for (long i = 0; i < a.elementCount(); i++) {
                    short expected = FloatBits.floatToF16(a.getFloat(i));
                    assertEquals(expected, halves.getAtIndex(Tensor.I16, i), t.name() + "[" + i + "]");
                }
                compared++;
            }
            assertTrue(compared > 30, "compared " + compared + " F16 tensors");
        }
    }

    /** The imatrix-quantized files record the imatrix they used; it is the reference .dat file. */
    @Test
    void imatrixQuantizedFilesNameTheReferenceImatrix() {
        Imatrix im = ImatrixFile.read(SharedData.require(TINY + "imatrix-wiki-valid.dat"));
        try (GgufFile f = GgufFile.open(SharedData.require(TINY + "gguf/qforge-tiny-llama-Q4_K_M-imatrix.gguf"))) {
            GgufMetadata m = f.metadata();
            assertEquals(im.datasets().getLast(), m.getString("quantize.imatrix.dataset"));
            assertEquals(im.entries().size(), m.getInt("quantize.imatrix.entries_count"));
            assertEquals(im.chunkCount(), m.getInt("quantize.imatrix.chunks_count"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"stories260K/gguf/stories260K-Q2_K.gguf", "qforge-tiny-llama/gguf/qforge-tiny-llama-IQ4_XS-imatrix.gguf"})
    void quantizedTensorsAreWholeBlocks(String file) {
        try (GgufFile f = GgufFile.open(SharedData.require("reference/" + file))) {
            for (GgufTensorInfo t : f.tensorInfos()) {
                assertEquals(0, t.ne()[0] % t.type().blockSize(), t.name());
                MemorySegment d = f.data(t);
                assertEquals(t.elementCount() / t.type().blockSize() * t.type().bytesPerBlock(), d.byteSize());
                assertFalse(d.isMapped() && d.byteSize() == 0);
                d.get(ValueLayout.JAVA_BYTE, d.byteSize() - 1); // inside the map
            }
        }
    }
}
