package dev.qforge.format;

import dev.qforge.QforgeException;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * A file that either appears complete or not at all: bytes go to a temporary name in the same directory,
 * are forced to disk, and the file is renamed into place only on {@link #commit()}. Closing without a
 * commit (a full disk, an exception in the producer) deletes the temporary file and leaves whatever was
 * at the target untouched; so does a stopped process, and a killed one's is swept later ({@link PartialFiles}).
 */
public final class AtomicFile implements AutoCloseable {
    @FunctionalInterface
    public interface Producer {
        void writeTo(OutputStream out) throws IOException;
    }

    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private final OutputStream out;
    private boolean committed;

    private AtomicFile(Path target, Path temp, FileChannel channel) {
        this.target = target;
        this.temp = temp;
        this.channel = channel;
        this.out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 20);
    }

    /** Starts writing {@code target}; write to {@link #stream()}, then {@link #commit()}. */
    public static AtomicFile create(Path target) {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        Path temp = PartialFiles.partialPath(absolute);
        try {
            Files.createDirectories(dir);
            PartialFiles.begin(temp);
            FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE);
            return new AtomicFile(absolute, temp, channel);
        } catch (IOException e) {
            throw new QforgeException(target + ": cannot write: " + describe(e), e);
        }
    }

    /** Writes the whole file with one producer. */
    public static void write(Path target, Producer producer) {
        try (AtomicFile file = create(target)) {
            try {
                producer.writeTo(file.stream());
            } catch (IOException e) {
                throw new QforgeException(target + ": cannot write: " + describe(e), e);
            }
            file.commit();
        }
    }

    public OutputStream stream() {
        return out;
    }

    /** Flushes, forces to disk and renames into place. */
    public void commit() {
        try {
            out.flush();
            channel.force(true);
            channel.close();
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            committed = true;
            PartialFiles.end(temp);
        } catch (IOException e) {
            throw new QforgeException(target + ": cannot write: " + describe(e), e);
        }
    }

    @Override
    public void close() {
        if (committed) {
            return;
        }
        try {
            channel.close();
        } catch (IOException ignored) {
            // Deleting the temporary file is what matters now.
        }
        try {
            Files.deleteIfExists(temp);
        } catch (IOException ignored) {
            // The original failure is what the user needs to see.
        }
        PartialFiles.end(temp);
    }

    private static String describe(IOException e) {
        String m = e.getMessage();
        return m == null ? e.getClass().getSimpleName() : m;
    }
}
