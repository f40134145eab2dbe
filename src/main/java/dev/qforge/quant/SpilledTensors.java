package dev.qforge.quant;

import dev.qforge.QforgeException;
import dev.qforge.format.PartialFiles;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Quantized tensors kept on disk between the calibration that makes them and the writer that puts them
 * into the GGUF: a model's quantized layers do not have to fit in the Java heap, only the layer at work.
 * Each tensor is appended to one temporary file beside the output and read back mapped (from the page
 * cache, as the source weights are). The file is a partial file: removed when done, when the process is
 * stopped, or by the next run if the process was killed.
 */
public final class SpilledTensors implements AutoCloseable {
    private final Path file;
    private final FileChannel channel;
    private final Arena arena = Arena.ofShared();
    private final Map<String, MemorySegment> tensors = new LinkedHashMap<>();
    private long size;

    /** A store for the tensors of the output {@code output}, in its folder. */
    public SpilledTensors(Path output) {
        Path abs = output.toAbsolutePath();
        this.file = abs.resolveSibling("." + abs.getFileName() + ".tensors.partial-" + ProcessHandle.current().pid());
        try {
            Files.createDirectories(abs.getParent());
            PartialFiles.begin(file);
            this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (IOException e) {
            PartialFiles.end(file);
            throw new QforgeException(file + ": cannot write quantized tensors: " + e.getMessage(), e);
        }
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
                    : channel.map(FileChannel.MapMode.READ_ONLY, at, bytes.length, arena);
            tensors.put(name, m);
            return m;
        } catch (IOException e) {
            throw new QforgeException(file + ": cannot write quantized tensor " + name + ": " + e.getMessage(), e);
        }
    }

    /** The tensors stored so far, by name, in the order they came. */
    public Map<String, MemorySegment> tensors() {
        return tensors;
    }

    @Override
    public void close() {
        arena.close();
        try {
            channel.close();
        } catch (IOException ignored) {
            // deleting it is what matters
        }
        PartialFiles.deleteTree(file);
        PartialFiles.end(file);
    }
}
