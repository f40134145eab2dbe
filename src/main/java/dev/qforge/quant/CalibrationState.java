package dev.qforge.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.QforgeException;
import dev.qforge.format.AtomicFile;
import dev.qforge.format.JsonFiles;
import dev.qforge.format.MappedFiles;
import dev.qforge.format.PartialFiles;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A calibrated run's quantized tensors, kept on disk between the calibration that makes them and the writer
 * that puts them into the GGUF, so that a model's quantized layers never have to fit in the Java heap: each
 * tensor is appended to {@code tensors.bin} in the folder {@code OUTPUT.resume} beside the output and read
 * back mapped. After each finished layer, {@code state.json} records the layers done and where their tensors
 * are (written after the tensors are forced to disk), so an interrupted run can continue with
 * {@code --resume} from the next layer. The folder is removed when the output is complete.
 */
public final class CalibrationState implements AutoCloseable {
    private static final String TENSORS = "tensors.bin";
    private static final String STATE = "state.json";

    private final Path dir;
    private final String settings;
    private final FileChannel channel;
    private final Arena arena = Arena.ofShared();
    private final Map<String, MemorySegment> tensors = new LinkedHashMap<>();
    private final Map<String, long[]> places = new LinkedHashMap<>();
    private int layersDone;
    private long size;

    private CalibrationState(Path dir, String settings, FileChannel channel) {
        this.dir = dir;
        this.settings = settings;
        this.channel = channel;
    }

    /** The state folder of an output. */
    public static Path folderOf(Path output) {
        Path abs = output.toAbsolutePath();
        return abs.resolveSibling(abs.getFileName() + ".resume");
    }

    /**
     * A fresh state for {@code output}; an earlier one (of an interrupted run) is discarded.
     *
     * @param settings what the run was asked to do, as text: a resumed run must have been asked the same
     */
    public static CalibrationState start(Path output, String settings) {
        Path dir = folderOf(output);
        PartialFiles.deleteTree(dir);
        try {
            Files.createDirectories(dir);
            FileChannel ch = FileChannel.open(dir.resolve(TENSORS), StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ, StandardOpenOption.WRITE);
            CalibrationState s = new CalibrationState(dir, settings, ch);
            s.save();
            return s;
        } catch (IOException e) {
            throw new QforgeException(dir + ": cannot write the calibration state: " + e.getMessage(), e);
        }
    }

    /** The state an interrupted run of the same settings left, with its finished layers' tensors. */
    public static CalibrationState resume(Path output, String settings) {
        Path dir = folderOf(output);
        Path stateFile = dir.resolve(STATE);
        if (!Files.isRegularFile(stateFile)) {
            throw new QforgeException(dir + ": no state of an interrupted run to resume (--resume); run without it");
        }
        JsonNode json = JsonFiles.readObject(stateFile);
        if (!settings.equals(json.path("settings").asText())) {
            throw new QforgeException(dir + ": the interrupted run was asked something else (" + json.path("settings").asText()
                    + "); run without --resume to start over");
        }
        try {
            FileChannel ch = FileChannel.open(dir.resolve(TENSORS), StandardOpenOption.READ, StandardOpenOption.WRITE);
            CalibrationState s = new CalibrationState(dir, settings, ch);
            for (JsonNode t : json.path("tensors")) {
                long offset = t.path("offset").asLong();
                long bytes = t.path("bytes").asLong();
                if (offset < 0 || bytes < 0 || offset + bytes > ch.size()) {
                    throw new QforgeException(stateFile + ": tensor " + t.path("name").asText() + " lies outside " + TENSORS);
                }
                s.places.put(t.path("name").asText(), new long[]{offset, bytes});
                s.tensors.put(t.path("name").asText(), bytes == 0 ? MemorySegment.NULL
                        : MappedFiles.mapReadOnly(ch, offset, bytes, s.arena));
                s.size = Math.max(s.size, offset + bytes);
            }
            s.layersDone = json.path("layersDone").asInt();
            ch.truncate(s.size);
            return s;
        } catch (IOException e) {
            throw new QforgeException(dir + ": cannot read the calibration state: " + e.getMessage(), e);
        }
    }

    /** Decoder layers whose tensors are all stored. */
    public int layersDone() {
        return layersDone;
    }

    public Path folder() {
        return dir;
    }

    /** Appends the tensor's bytes and returns them mapped read-only. */
    public synchronized MemorySegment put(String name, byte[] bytes) {
        try {
            long at = size;
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                channel.write(b, at + b.position());
            }
            size += bytes.length;
            MemorySegment m = bytes.length == 0 ? MemorySegment.NULL
                    : MappedFiles.mapReadOnly(channel, at, bytes.length, arena);
            tensors.put(name, m);
            places.put(name, new long[]{at, bytes.length});
            return m;
        } catch (IOException e) {
            throw new QforgeException(dir.resolve(TENSORS) + ": cannot write quantized tensor " + name + ": " + e.getMessage(), e);
        }
    }

    /** A stored tensor, or null. */
    public MemorySegment get(String name) {
        return tensors.get(name);
    }

    /** The tensors stored so far, by name, in the order they came. */
    public Map<String, MemorySegment> tensors() {
        return tensors;
    }

    /** Records that layers [0, layer] are done: their tensors reach the disk first, then the record. */
    public synchronized void layerDone(int layer) {
        try {
            channel.force(true);
        } catch (IOException e) {
            throw new QforgeException(dir.resolve(TENSORS) + ": cannot write: " + e.getMessage(), e);
        }
        layersDone = layer + 1;
        save();
    }

    private void save() {
        ObjectNode root = JsonFiles.mapper().createObjectNode();
        root.put("settings", settings);
        root.put("layersDone", layersDone);
        ArrayNode list = root.putArray("tensors");
        places.forEach((name, p) -> list.addObject().put("name", name).put("offset", p[0]).put("bytes", p[1]));
        byte[] text = (root.toPrettyString() + "\n").getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(dir.resolve(STATE), out -> out.write(text));
    }

    /** The output is complete: the state is removed. */
    public void finish() {
        close();
        PartialFiles.deleteTree(dir);
    }

    @Override
    public void close() {
        if (arena.scope().isAlive()) {
            arena.close();
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // nothing left to save
        }
    }
}
