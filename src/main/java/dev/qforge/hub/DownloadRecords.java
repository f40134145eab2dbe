package dev.qforge.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Remembers, per downloaded file, the hash it was verified against and the size and modification
 * time it had then, in {@code <dest>/.qforge/download/<file>.json} (huggingface_hub keeps the same kind
 * of note under .cache/huggingface/download). A later pull that finds all three unchanged skips the
 * file without re-reading gigabytes of weights to hash them; if anything differs it hashes again.
 */
final class DownloadRecords {
    static final String DIR = ".qforge/download";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path root;

    DownloadRecords(Path destDir) {
        this.root = destDir.resolve(DIR);
    }

    /** True when {@code file} is recorded as verified against {@code hash} and is unchanged since. */
    boolean isVerified(String path, Path file, ExpectedHash hash) {
        Path rec = recordPath(path);
        try {
            if (!Files.isRegularFile(rec)) {
                return false;
            }
            JsonNode n = JSON.readTree(rec.toFile());
            return hash.toString().equals(n.path("hash").asText())
                    && n.path("size").asLong(-1) == Files.size(file)
                    && n.path("mtime").asLong(-1) == Files.getLastModifiedTime(file).toMillis();
        } catch (IOException e) {
            return false;   // an unreadable note only costs a re-hash
        }
    }

    void record(String path, Path file, ExpectedHash hash, String commit) throws IOException {
        Path rec = recordPath(path);
        Files.createDirectories(rec.getParent());
        ObjectNode n = JSON.createObjectNode();
        n.put("hash", hash.toString());
        n.put("size", Files.size(file));
        n.put("mtime", Files.getLastModifiedTime(file).toMillis());
        if (commit != null) {
            n.put("commit", commit);
        }
        Path tmp = rec.resolveSibling(rec.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), n);
        moveAtomically(tmp, rec);
    }

    void forget(String path) throws IOException {
        Files.deleteIfExists(recordPath(path));
    }

    private Path recordPath(String path) {
        return root.resolve(path + ".json");
    }

    /** Rename in one step where the file system can, so readers see the old file or the new one, never half. */
    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
