package dev.qforge.format;

import dev.qforge.QforgeException;
import dev.qforge.kernel.blocks.GgmlType;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads and writes llama.cpp's two imatrix file formats; {@link #read} tells them apart by the GGUF magic.
 *
 * <p><b>Legacy (.dat)</b>, all little-endian: int32 entry count; per entry int32 name length, the name,
 * int32 ncall, int32 nval and nval float32 values, each the column's mean squared activation times
 * ncall; then, optionally, int32 the number of chunks processed and int32 length + name of the dataset.
 *
 * <p><b>GGUF</b>: metadata {@code general.type = "imatrix"}, {@code imatrix.datasets} (strings),
 * {@code imatrix.chunk_count} and {@code imatrix.chunk_size} (UINT32); per weight matrix {@code W}, F32
 * tensors {@code W.in_sum2} (sums of squared activations, ne = [columns, matrices]), {@code W.counts}
 * (rows summed, ne = [1, matrices]) and optionally {@code W.in_sum} (plain sums).
 */
public final class ImatrixFile {
    public static final String KEY_DATASETS = "imatrix.datasets";
    public static final String KEY_CHUNK_COUNT = "imatrix.chunk_count";
    public static final String KEY_CHUNK_SIZE = "imatrix.chunk_size";
    static final String SUFFIX_SUM2 = ".in_sum2";
    static final String SUFFIX_COUNTS = ".counts";
    static final String SUFFIX_SUM = ".in_sum";
    /** A legacy entry takes at least: name length, a 1-byte name, ncall, nval, one value. */
    static final long MIN_LEGACY_ENTRY_BYTES = 4 + 1 + 4 + 4 + 4;

    private ImatrixFile() {
    }

    /** Reads either format, told apart by the first four bytes ("GGUF" or not). */
    public static Imatrix read(Path path) {
        byte[] head = new byte[4];
        int n;
        try (InputStream in = Files.newInputStream(path)) {
            n = in.readNBytes(head, 0, 4);
        } catch (NoSuchFileException e) {
            throw new QforgeException(path + ": no such file");
        } catch (IOException e) {
            throw new QforgeException(path + ": cannot read: " + e.getMessage(), e);
        }
        return n == 4 && GgufFile.hasMagic(head) ? readGguf(path) : readLegacy(path);
    }

    // ---------------------------------------------------------------- legacy

    public static Imatrix readLegacy(Path path) {
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment seg = size == 0 ? MemorySegment.ofArray(new byte[0])
                    : MappedFiles.mapReadOnly(ch, 0, size, arena);
            return new LegacyParser(path, seg).parse();
        } catch (NoSuchFileException e) {
            throw new QforgeException(path + ": no such file");
        } catch (IOException e) {
            throw new QforgeException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static final class LegacyParser {
        private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        private final Path path;
        private final MemorySegment seg;
        private final long size;
        private long pos;

        LegacyParser(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
            this.size = seg.byteSize();
        }

        Imatrix parse() {
            int n = i32("entry count");
            if (n < 0) {
                throw error("entry count " + n + " is negative (not an imatrix file?)");
            }
            if (n == 0) {
                throw error("the imatrix has no entries");
            }
            if (n > (size - pos) / MIN_LEGACY_ENTRY_BYTES) {
                throw error("entry count " + n + " is absurd for a file of " + size + " bytes (not an imatrix file?)");
            }
            List<Imatrix.Entry> entries = new ArrayList<>();
            Map<String, Boolean> seen = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                int len = i32("name length of entry " + i);
                if (len <= 0 || len > size - pos) {
                    throw error("entry " + i + " has name length " + len + " at offset " + (pos - 4)
                            + (len <= 0 ? "" : ", past the end of the file (truncated?)"));
                }
                String name = new String(bytes(len), StandardCharsets.UTF_8);
                String where = "entry '" + GgufFile.printable(name) + "'";
                if (seen.put(name, true) != null) {
                    throw error("duplicate " + where);
                }
                int ncall = i32("ncall of " + where);
                if (ncall < 0) {
                    throw error(where + " has a negative call count " + ncall);
                }
                int nval = i32("value count of " + where);
                if (nval < 1) {
                    throw error(where + " has " + nval + " values");
                }
                if (4L * nval > size - pos) {
                    throw error(where + " has " + nval + " values (" + 4L * nval + " bytes) at offset " + (pos - 4)
                            + ", past the end of the file (" + (size - pos) + " bytes left; truncated?)");
                }
                float[] values = new float[nval];
                MemorySegment.copy(seg, F32, pos, values, 0, nval);
                pos += 4L * nval;
                checkSums(path, where, values);
                entries.add(new Imatrix.Entry(name, values, new long[]{ncall}, null));
            }
            int chunks = 0;
            List<String> datasets = List.of();
            if (pos < size) {
                chunks = i32("chunk count after the entries");
                if (chunks < 0) {
                    throw error("the chunk count after the entries is negative (" + chunks + ")");
                }
                if (pos < size) {
                    int len = i32("dataset name length");
                    if (len < 0 || len > size - pos) {
                        throw error("dataset name length " + len + " at offset " + (pos - 4)
                                + " runs past the end of the file (truncated?)");
                    }
                    datasets = List.of(new String(bytes(len), StandardCharsets.UTF_8));
                }
            }
            if (pos != size) {
                throw error((size - pos) + " unexpected bytes after the dataset name at offset " + pos);
            }
            return new Imatrix(path, entries, datasets, chunks, 0);
        }

        private int i32(String what) {
            if (size - pos < 4) {
                throw error(what + " at offset " + pos + " runs past the end of the file (" + size + " bytes; truncated?)");
            }
            int v = seg.get(I32, pos);
            pos += 4;
            return v;
        }

        private byte[] bytes(int len) {
            byte[] b = new byte[len];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, b, 0, len);
            pos += len;
            return b;
        }

        private QforgeException error(String problem) {
            return new QforgeException(path + ": " + problem);
        }
    }

    /** Sums of squares are finite and not negative; anything else would poison quantization. */
    private static void checkSums(Path path, String where, float[] values) {
        for (int j = 0; j < values.length; j++) {
            float v = values[j];
            if (!(v >= 0) || Float.isInfinite(v)) {
                throw new QforgeException(path + ": " + where + " has value " + v + " at column " + j
                        + " (sums of squares are finite and not negative)");
            }
        }
    }

    /**
     * Writes the legacy .dat format. Each entry's ncall is its count when the counts are calls (chunk size
     * 0), or the count in chunks rounded up; values are mean × ncall, computed in float as llama.cpp does
     * (and copied unchanged when the count already is ncall, so that a .dat file is rewritten bit for bit).
     * Entries that counted no tokens are left out, as llama.cpp does (an ncall of 0 read from a .dat file
     * is kept). The trailer holds the chunk count and the last dataset name.
     */
    public static void writeLegacy(Imatrix imatrix, Path target) {
        AtomicFile.write(target, out -> {
            LittleEndianOutput le = new LittleEndianOutput(out);
            List<Imatrix.Entry> kept = new ArrayList<>();
            List<Integer> ncalls = new ArrayList<>();
            for (Imatrix.Entry e : imatrix.entries().values()) {
                long max = 0;
                for (long c : e.counts()) {
                    max = Math.max(max, c);
                }
                long ncall = imatrix.chunkSize() == 0 ? max : (max + imatrix.chunkSize() - 1) / imatrix.chunkSize();
                if (ncall == 0 && imatrix.chunkSize() != 0) {
                    continue; // collected but never used
                }
                if (ncall > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException(e.name() + ": call count " + ncall + " does not fit the .dat format");
                }
                kept.add(e);
                ncalls.add((int) ncall);
            }
            le.u32(kept.size());
            for (int k = 0; k < kept.size(); k++) {
                Imatrix.Entry e = kept.get(k);
                int ncall = ncalls.get(k);
                byte[] name = e.name().getBytes(StandardCharsets.UTF_8);
                le.u32(name.length);
                le.write(name);
                le.u32(ncall);
                float[] s2 = e.sumSquares();
                le.u32(s2.length);
                int cols = e.columns();
                for (int i = 0; i < s2.length; i++) {
                    long c = e.counts()[i / cols];
                    float v;
                    if (c == ncall) {
                        v = s2[i];
                    } else if (c == 0) {
                        v = ncall; // llama.cpp stores 1 (per call) for a matrix without data
                    } else {
                        v = (s2[i] / (float) c) * (float) ncall;
                    }
                    le.f32(v);
                }
            }
            le.u32(imatrix.chunkCount());
            List<String> ds = imatrix.datasets();
            byte[] dataset = ds.isEmpty() ? new byte[0] : ds.getLast().getBytes(StandardCharsets.UTF_8);
            le.u32(dataset.length);
            le.write(dataset);
            le.flush();
        });
    }

    // ---------------------------------------------------------------- GGUF

    public static Imatrix readGguf(Path path) {
        try (GgufFile gguf = GgufFile.open(path)) {
            GgufMetadata meta = gguf.metadata();
            String type = meta.getString("general.type", "imatrix");
            List<String> datasets = meta.contains(KEY_DATASETS) ? meta.getStringArray(KEY_DATASETS) : List.of();
            int chunkCount = meta.getInt(KEY_CHUNK_COUNT, 0);
            int chunkSize = meta.getInt(KEY_CHUNK_SIZE, 0);
            if (chunkCount < 0 || chunkSize < 0) {
                throw new QforgeException(path + ": " + (chunkCount < 0 ? KEY_CHUNK_COUNT : KEY_CHUNK_SIZE)
                        + " is negative");
            }
            Map<String, GgufTensorInfo[]> groups = new LinkedHashMap<>();
            for (GgufTensorInfo t : gguf.tensorInfos()) {
                String n = t.name();
                int slot;
                String base;
                if (n.endsWith(SUFFIX_SUM2)) {
                    slot = 0;
                    base = n.substring(0, n.length() - SUFFIX_SUM2.length());
                } else if (n.endsWith(SUFFIX_COUNTS)) {
                    slot = 1;
                    base = n.substring(0, n.length() - SUFFIX_COUNTS.length());
                } else if (n.endsWith(SUFFIX_SUM)) {
                    slot = 2;
                    base = n.substring(0, n.length() - SUFFIX_SUM.length());
                } else {
                    continue; // llama.cpp ignores other tensors too
                }
                if (t.type() != GgmlType.F32) {
                    throw new QforgeException(path + ": imatrix tensor '" + GgufFile.printable(n) + "' is " + t.type()
                            + ", expected F32");
                }
                groups.computeIfAbsent(base, k -> new GgufTensorInfo[3])[slot] = t;
            }
            if (groups.isEmpty()) {
                throw new QforgeException(path + ": no imatrix tensors (<name>" + SUFFIX_SUM2 + " and <name>"
                        + SUFFIX_COUNTS + ") in this GGUF file (general.type is '" + GgufFile.printable(type) + "')");
            }
            List<Imatrix.Entry> entries = new ArrayList<>();
            for (Map.Entry<String, GgufTensorInfo[]> g : groups.entrySet()) {
                String where = "entry '" + GgufFile.printable(g.getKey()) + "'";
                GgufTensorInfo[] t = g.getValue();
                if (t[0] == null || t[1] == null) {
                    throw new QforgeException(path + ": " + where + " has no " + (t[0] == null ? SUFFIX_SUM2 : SUFFIX_COUNTS)
                            + " tensor");
                }
                long nval = t[0].elementCount();
                long nmat = t[1].elementCount();
                if (nval > Integer.MAX_VALUE - 8) {
                    throw new QforgeException(path + ": " + where + " has " + nval + " values, more than qforge can hold");
                }
                if (nval % nmat != 0) {
                    throw new QforgeException(path + ": " + where + " has " + nval + " sums of squares, not a multiple of its "
                            + nmat + " counts");
                }
                if (t[2] != null && t[2].elementCount() != nval) {
                    throw new QforgeException(path + ": " + where + " has " + t[2].elementCount() + " sums but " + nval
                            + " sums of squares");
                }
                float[] s2 = gguf.tensor(t[0].name()).toFloatArray();
                checkSums(path, where, s2);
                float[] countValues = gguf.tensor(t[1].name()).toFloatArray();
                long[] counts = new long[countValues.length];
                for (int i = 0; i < counts.length; i++) {
                    float c = countValues[i];
                    if (!(c >= 0) || Float.isInfinite(c)) {
                        throw new QforgeException(path + ": " + where + " has count " + c + " for matrix " + i
                                + " (counts are finite and not negative)");
                    }
                    counts[i] = Math.round((double) c);
                }
                float[] s = t[2] == null ? null : gguf.tensor(t[2].name()).toFloatArray();
                entries.add(new Imatrix.Entry(g.getKey(), s2, counts, s));
            }
            return new Imatrix(path, entries, datasets, chunkCount, chunkSize);
        }
    }

    /**
     * Writes the GGUF format as llama.cpp does (entries in the imatrix's order; for each, in_sum2, counts,
     * then in_sum when present). Counts must be tokens: an imatrix read from the legacy format needs
     * {@link Imatrix#withChunkSize} first.
     */
    public static void writeGguf(Imatrix imatrix, Path target) {
        if (imatrix.chunkSize() <= 0) {
            throw new IllegalArgumentException("the imatrix counts calls, not tokens: call withChunkSize(tokens per chunk) first");
        }
        GgufWriter w = new GgufWriter()
                .putString("general.type", "imatrix")
                .put(KEY_DATASETS, GgufValue.stringArray(imatrix.datasets()))
                .putUInt32(KEY_CHUNK_COUNT, imatrix.chunkCount())
                .putUInt32(KEY_CHUNK_SIZE, imatrix.chunkSize());
        for (Imatrix.Entry e : imatrix.entries().values()) {
            long cols = e.columns();
            long nmat = e.matrices();
            w.addTensor(e.name() + SUFFIX_SUM2, GgmlType.F32, ggmlDims(cols, nmat), floats(e.sumSquares()));
            float[] counts = new float[e.counts().length];
            for (int i = 0; i < counts.length; i++) {
                counts[i] = (float) e.counts()[i];
            }
            w.addTensor(e.name() + SUFFIX_COUNTS, GgmlType.F32, ggmlDims(1, nmat), floats(counts));
            if (e.sums() != null) {
                w.addTensor(e.name() + SUFFIX_SUM, GgmlType.F32, ggmlDims(cols, nmat), floats(e.sums()));
            }
        }
        w.write(target);
    }

    /** ggml writes as many dims as up to the last one above 1 (at least one). */
    private static long[] ggmlDims(long ne0, long ne1) {
        return ne1 == 1 ? new long[]{ne0} : new long[]{ne0, ne1};
    }

    private static AtomicFile.Producer floats(float[] v) {
        return out -> FloatEncoding.writeF32(out, v, 0, v.length);
    }
}
