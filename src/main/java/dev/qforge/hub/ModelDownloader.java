package dev.qforge.hub;

import dev.qforge.QforgeException;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

/**
 * Pulls a model repo into a local directory: lists the files at a revision, picks the ones qforge
 * needs, and downloads each one that is not already there. Usable as a library; the CLI's pull
 * command is a thin wrapper.
 *
 * <p>All files are fetched at the commit the revision resolved to when the listing was made, as
 * huggingface_hub does, so a push to the branch during a long download cannot mix two versions.
 */
public final class ModelDownloader {
    private final HubClient client;
    private final ProgressPrinter progress;

    /** Prints progress to {@code progressOut} (null: silent). */
    public ModelDownloader(HubClient client, PrintWriter progressOut) {
        this(client, new ProgressPrinter(progressOut, progressOut != null && isTerminal()));
    }

    ModelDownloader(HubClient client, ProgressPrinter progress) {
        this.client = client;
        this.progress = progress;
    }

    private static boolean isTerminal() {
        return System.console() != null && System.console().isTerminal();
    }

    /** Downloads the default file selection; returns {@code destDir}. */
    public Path download(String repoId, String revision, Path destDir) {
        return download(RepoId.parse(repoId), revision, destDir, FileSelection.defaults());
    }

    public Path download(RepoId repo, String revision, Path destDir, FileSelection selection) {
        if (revision == null || revision.isBlank()) {
            throw new QforgeException("revision is empty: give a branch, tag or commit, e.g. main");
        }
        ModelInfo info = client.modelInfo(repo, revision);
        if (!info.hasSafetensors()) {
            throw new QforgeException(repo + " at revision '" + revision + "' has no .safetensors weights "
                    + "(only " + describeWeights(info) + "); qforge reads safetensors only: pick a repo that ships them");
        }
        if (info.gated() && !client.hasToken()) {
            throw new QforgeException(repo + " is gated: accept its terms at " + client.urls().page(repo)
                    + ", then set HF_TOKEN or pass --token with a token of that account");
        }
        // Download from the commit, not the branch; fall back to the revision if the server gave none.
        String pinned = info.commit() != null ? info.commit() : revision;
        Path dest = destDir.toAbsolutePath().normalize();
        createDirectories(dest);
        FileDownloader files = new FileDownloader(client, progress, new DownloadRecords(dest));

        Set<String> shards = null;
        RepoFile index = info.file(ShardIndex.FILE_NAME);
        if (index != null && selection.selects(index.path(), null)) {
            fetch(files, target(repo, revision, pinned, index, dest));
            shards = ShardIndex.shards(dest.resolve(index.path()));
            for (String shard : shards) {
                if (info.file(shard) == null) {
                    throw new QforgeException(client.urls().file(repo, pinned, index.path()) + ": names shard "
                            + shard + ", which the repo does not have");
                }
            }
        }
        List<RepoFile> wanted = new ArrayList<>();
        for (RepoFile f : info.files()) {
            if (selection.selects(f.path(), shards) && !f.path().equals(ShardIndex.FILE_NAME)) {
                wanted.add(f);
            }
        }
        if (wanted.isEmpty() && index == null) {
            throw new QforgeException(repo + ": no files match the selection (check --include / --exclude)");
        }
        // Small files first: a broken tokenizer or config shows up before gigabytes are spent.
        wanted.sort(Comparator.comparing((RepoFile f) -> f.path().endsWith(".safetensors"))
                .thenComparing(RepoFile::path));
        checkSpace(dest, wanted);

        int fetched = 0;
        for (RepoFile f : wanted) {
            fetched += fetch(files, target(repo, revision, pinned, f, dest)) ? 1 : 0;
        }
        int total = wanted.size() + (shards != null ? 1 : 0);
        progress.message(repo + ": " + total + " files in " + dest
                + (fetched < wanted.size() ? " (" + (wanted.size() - fetched) + " already up to date)" : ""));
        return dest;
    }

    private FileDownloader.Target target(RepoId repo, String revision, String pinned, RepoFile f, Path dest) {
        Path path = dest.resolve(f.path()).normalize();
        if (!path.startsWith(dest)) {   // ModelInfo already refuses such names; this is the last line of defence
            throw new QforgeException("refusing to write " + f.path() + " outside " + dest);
        }
        URI url = client.urls().file(repo, pinned, f.path());
        return new FileDownloader.Target(f, url, path, repo, revision, pinned);
    }

    /** True when it downloaded; false when the file was already complete. */
    private static boolean fetch(FileDownloader files, FileDownloader.Target t) {
        try {
            if (files.isComplete(t)) {
                return false;
            }
        } catch (IOException e) {
            throw new QforgeException(t.path() + ": cannot check the existing file: " + e.getMessage(), e);
        }
        files.download(t);
        return true;
    }

    /** Fails before downloading when the disk clearly cannot hold the files, instead of hours later. */
    private static void checkSpace(Path dest, List<RepoFile> files) {
        long needed = 0;
        for (RepoFile f : files) {
            if (f.size() > 0) {
                needed += f.size() - existingBytes(dest.resolve(f.path()), f.size());
            }
        }
        try {
            long free = Files.getFileStore(dest).getUsableSpace();
            if (needed > free) {
                throw new QforgeException("not enough disk space in " + dest + ": the download needs "
                        + ProgressPrinter.size(needed) + ", " + ProgressPrinter.size(free) + " free");
            }
        } catch (IOException e) {
            // Unknown free space is no reason to refuse; the write itself will report a full disk.
        }
    }

    private static long existingBytes(Path file, long size) {
        try {
            if (Files.isRegularFile(file) && Files.size(file) == size) {
                return size;
            }
            Path partial = FileDownloader.partialPath(file);
            return Files.isRegularFile(partial) ? Math.min(size, Files.size(partial)) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    private static String describeWeights(ModelInfo info) {
        List<String> weights = info.files().stream().map(RepoFile::path)
                .filter(p -> p.matches(".*\\.(bin|pt|pth|ckpt|gguf|onnx|msgpack|h5)")).limit(3).toList();
        return weights.isEmpty() ? "no weight files" : String.join(", ", weights)
                + (weights.size() == 3 ? ", ..." : "");
    }

    private static void createDirectories(Path dest) {
        try {
            Files.createDirectories(dest);
        } catch (IOException e) {
            throw new QforgeException(dest + ": cannot create the download directory: " + e.getMessage(), e);
        }
    }
}
