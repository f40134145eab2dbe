package dev.qforge.hub;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The hash the Hub publishes for a file. LFS files (the weights) are identified by the sha256 of their
 * content; small files kept in git are identified by their git blob id, sha1("blob LEN\0" + content).
 * The Hub reports either in the model-info listing and as the file's (X-Linked-)ETag; a 64-hex value is
 * a sha256 and a 40-hex one a blob id, which is how huggingface_hub tells them apart too.
 */
public record ExpectedHash(Kind kind, String hex) {
    public enum Kind { SHA256, GIT_BLOB_SHA1 }

    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Pattern SHA1 = Pattern.compile("[0-9a-f]{40}");

    public ExpectedHash {
        hex = hex.toLowerCase(Locale.ROOT);
        if (!(kind == Kind.SHA256 ? SHA256 : SHA1).matcher(hex).matches()) {
            throw new IllegalArgumentException("not a " + kind + " hex digest: " + hex);
        }
    }

    /** The hash an ETag stands for, or null when it is not one (a CDN's own ETag, a weak tag of other shape). */
    public static ExpectedHash fromEtag(String etag) {
        if (etag == null) {
            return null;
        }
        String v = etag.strip();
        if (v.startsWith("W/")) {
            v = v.substring(2);
        }
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
            v = v.substring(1, v.length() - 1);
        }
        v = v.toLowerCase(Locale.ROOT);
        if (SHA256.matcher(v).matches()) {
            return new ExpectedHash(Kind.SHA256, v);
        }
        if (SHA1.matcher(v).matches()) {
            return new ExpectedHash(Kind.GIT_BLOB_SHA1, v);
        }
        return null;
    }

    /**
     * A digest ready for the file's bytes. A git blob id hashes a header with the total length first,
     * so the size must be known before the content is fed in.
     */
    public MessageDigest newDigest(long totalSize) {
        try {
            if (kind == Kind.SHA256) {
                return MessageDigest.getInstance("SHA-256");
            }
            if (totalSize < 0) {
                throw new IllegalArgumentException("a git blob hash needs the file size");
            }
            MessageDigest d = MessageDigest.getInstance("SHA-1");
            d.update(("blob " + totalSize + "\0").getBytes(StandardCharsets.US_ASCII));
            return d;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks " + kind, e);
        }
    }

    /** Hashes a whole file the way this hash was computed. */
    public String digestOf(Path file) throws IOException {
        MessageDigest d = newDigest(Files.size(file));
        try (InputStream in = Files.newInputStream(file)) {
            updateFrom(in, d, Long.MAX_VALUE);
        }
        return HexFormat.of().formatHex(d.digest());
    }

    /** Feeds at most {@code limit} bytes of {@code in} into the digest. */
    static void updateFrom(InputStream in, MessageDigest d, long limit) throws IOException {
        byte[] buf = new byte[1 << 16];
        long left = limit;
        while (left > 0) {
            int n = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (n < 0) {
                break;
            }
            d.update(buf, 0, n);
            left -= n;
        }
    }

    public boolean matches(String actualHex) {
        return hex.equalsIgnoreCase(actualHex);
    }

    /** "sha256" or "git blob sha1", for messages. */
    public String label() {
        return kind == Kind.SHA256 ? "sha256" : "git blob sha1";
    }

    @Override
    public String toString() {
        return (kind == Kind.SHA256 ? "sha256:" : "gitsha1:") + hex;
    }
}
