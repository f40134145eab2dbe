package dev.qforge.hub;

import dev.qforge.QforgeException;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads one file so that the final path only ever holds a complete, verified file: bytes go to
 * {@code <file>.incomplete}, which is checked for size and hash, flushed to disk, and then renamed
 * into place in one step. A partial file left by an interrupted pull is resumed with a Range request.
 */
final class FileDownloader {
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final Pattern UNSATISFIED_RANGE = Pattern.compile("bytes \\*/(\\d+)");
    static final String PARTIAL_SUFFIX = ".incomplete";

    /** What the file's bytes were checked against; null fields mean "not known". */
    record Target(RepoFile file, URI url, Path path, RepoId repo, String revision, String commit) {
    }

    /** The partial file holds bytes that cannot be continued (another version, a wrong offset): start over. */
    private static final class StalePartial extends Exception {
        private static final long serialVersionUID = 1L;

        StalePartial(String why) {
            super(why, null, false, false);
        }
    }

    private final HubClient client;
    private final ProgressPrinter progress;
    private final DownloadRecords records;

    FileDownloader(HubClient client, ProgressPrinter progress, DownloadRecords records) {
        this.client = client;
        this.progress = progress;
        this.records = records;
    }

    /** True when the file already was complete and nothing was downloaded. */
    boolean isComplete(Target t) throws IOException {
        Path p = t.path();
        if (!Files.isRegularFile(p)) {
            return false;
        }
        RepoFile f = t.file();
        if (f.size() >= 0 && Files.size(p) != f.size()) {
            return false;
        }
        if (f.hash() == null) {
            // Nothing to compare content against: a matching size is the best evidence we have.
            return f.size() >= 0;
        }
        if (records.isVerified(f.path(), p, f.hash())) {
            return true;
        }
        if (f.hash().matches(f.hash().digestOf(p))) {
            records.record(f.path(), p, f.hash(), t.commit());
            return true;
        }
        return false;
    }

    /** Downloads (or resumes) the file and moves it into place, retrying transient failures. */
    void download(Target t) {
        Path partial = partialPath(t.path());
        RetryPolicy retry = client.retry();
        for (int failures = 0; ; ) {
            try {
                Files.createDirectories(t.path().getParent());
                attempt(t, partial);
                return;
            } catch (StalePartial e) {
                deleteQuietly(partial);
                if (++failures >= retry.tries()) {
                    throw new QforgeException(t.url() + ": " + e.getMessage());
                }
            } catch (IOException e) {
                if (++failures >= retry.tries()) {
                    throw HubErrors.failed(t.url(), e, failures);
                }
                retry.pause(failures);
            }
        }
    }

    static Path partialPath(Path target) {
        return target.resolveSibling(target.getFileName() + PARTIAL_SUFFIX);
    }

    private void attempt(Target t, Path partial) throws IOException, StalePartial {
        RepoFile f = t.file();
        long have = Files.isRegularFile(partial) ? Files.size(partial) : 0;
        if (f.size() >= 0 && have > f.size()) {
            throw new StalePartial("partial download is larger than the file (" + have + " > " + f.size() + " bytes)");
        }
        if (f.size() > 0 && have == f.size()) {
            // A previous run got every byte but stopped before the rename.
            finish(t, partial, f.hash(), f.size(), null, true);
            return;
        }
        Map<String, String> headers = have > 0 ? Map.of("Range", "bytes=" + have + "-") : Map.of();
        try (HubResponse r = client.send("GET", t.url(), headers)) {
            long total;
            boolean append;
            switch (r.status()) {
                case 206 -> {
                    Matcher m = CONTENT_RANGE.matcher(String.valueOf(r.header("content-range")));
                    if (!m.matches() || Long.parseLong(m.group(1)) != have) {
                        throw new StalePartial("server answered the resume request with an unexpected range "
                                + r.header("content-range"));
                    }
                    total = m.group(3).equals("*") ? -1 : Long.parseLong(m.group(3));
                    append = true;
                }
                case 200 -> {
                    // The server ignored the Range header and sends the whole file: start over.
                    total = r.contentLength();
                    append = false;
                    have = 0;
                }
                case 416 -> {
                    // Nothing left to send from our offset: either we already have it all (the size
                    // was unknown to us) or the file changed and our partial is longer than it.
                    Matcher m = UNSATISFIED_RANGE.matcher(String.valueOf(r.header("content-range")));
                    if (have > 0 && m.matches() && Long.parseLong(m.group(1)) == have) {
                        finish(t, partial, hashFor(f, r), have, null, true);
                        return;
                    }
                    throw new StalePartial("server refused to resume at byte " + have + " (416)");
                }
                default -> {
                    if (TransientHttpException.isTransient(r.status())) {
                        throw new TransientHttpException(r.url(), r.status());
                    }
                    throw HubErrors.forStatus(r, t.repo(), t.revision(), f.path(), client.hasToken(), client.urls());
                }
            }
            long expected = f.size() >= 0 ? f.size() : r.linkedSize() >= 0 ? r.linkedSize() : total;
            if (f.size() >= 0 && total >= 0 && total != f.size()) {
                deleteQuietly(partial);
                throw new QforgeException(r.url() + ": server sends " + total + " bytes but the repo lists "
                        + f.path() + " as " + f.size() + " bytes");
            }
            ExpectedHash hash = hashFor(f, r);
            // Hash while writing so a multi-gigabyte file is not read twice; a git blob hash needs the
            // length up front, so without one it is computed from the file at the end instead.
            MessageDigest digest = hash != null && (expected >= 0 || hash.kind() == ExpectedHash.Kind.SHA256)
                    ? hash.newDigest(expected) : null;
            if (append && digest != null) {
                try (InputStream in = Files.newInputStream(partial)) {
                    ExpectedHash.updateFrom(in, digest, have);
                }
            }
            long got = copy(r.body(), partial, append, have, expected, digest, f.path());
            if (expected >= 0 && got > expected) {
                deleteQuietly(partial);
                if (append) {
                    throw new StalePartial("resumed download grew past the file size");
                }
                throw new QforgeException(r.url() + ": server sent " + got + " bytes, expected " + expected);
            }
            if (expected >= 0 && got < expected) {
                // The connection ended early: keep the partial file and let the retry resume it.
                throw new IOException("connection closed after " + got + " of " + expected + " bytes");
            }
            finish(t, partial, hash, got, digest, append);
        }
    }

    private static ExpectedHash hashFor(RepoFile f, HubResponse r) {
        return f.hash() != null ? f.hash() : r.announcedHash();
    }

    /** Streams the body into the partial file; returns the partial file's size afterwards. */
    private long copy(InputStream body, Path partial, boolean append, long have, long expected,
                      MessageDigest digest, String name) throws IOException {
        ProgressPrinter.File bar = progress.start(name, expected, have);
        long size = have;
        StandardOpenOption mode = append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING;
        try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE, mode)) {
            byte[] buf = new byte[1 << 20];
            for (int n; (n = body.read(buf)) >= 0; ) {
                ByteBuffer bb = ByteBuffer.wrap(buf, 0, n);
                while (bb.hasRemaining()) {
                    out.write(bb);
                }
                if (digest != null) {
                    digest.update(buf, 0, n);
                }
                size += n;
                bar.advance(n);
                if (expected >= 0 && size > expected) {
                    break;
                }
            }
            // On disk before the rename, so a crash cannot leave a renamed file with missing bytes.
            out.force(true);
        }
        bar.done();
        return size;
    }

    /**
     * Verifies the complete partial file and renames it into place. A mismatch after resuming means
     * the old bytes were of another version: start over. A mismatch on fresh bytes is an error.
     */
    private void finish(Target t, Path partial, ExpectedHash hash, long size, MessageDigest digest, boolean resumed)
            throws IOException, StalePartial {
        if (hash != null) {
            String actual = digest != null ? HexFormat.of().formatHex(digest.digest()) : hash.digestOf(partial);
            if (!hash.matches(actual)) {
                deleteQuietly(partial);
                if (resumed) {
                    throw new StalePartial(hash.label() + " mismatch after resuming; restarting from zero");
                }
                throw new QforgeException(t.url() + ": " + hash.label() + " mismatch (expected " + hash.hex()
                        + ", got " + actual + "); the download was deleted, run pull again");
            }
        }
        records.forget(t.file().path());
        DownloadRecords.moveAtomically(partial, t.path());
        if (hash != null) {
            records.record(t.file().path(), t.path(), hash, t.commit());
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // Best effort: the next pull overwrites or resumes it anyway.
        }
    }
}
