package dev.qforge.hub;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class ExpectedHashTest {
    @Test
    void etagShapesTellTheHashKind() {
        String sha256 = "a".repeat(64);
        assertEquals(ExpectedHash.Kind.SHA256, ExpectedHash.fromEtag("\"" + sha256 + "\"").kind());
        assertEquals(ExpectedHash.Kind.GIT_BLOB_SHA1, ExpectedHash.fromEtag("W/\"" + "B".repeat(40) + "\"").kind());
        assertEquals("b".repeat(40), ExpectedHash.fromEtag("\"" + "B".repeat(40) + "\"").hex());
        assertNull(ExpectedHash.fromEtag("\"d41d8cd98f00b204e9800998ecf8427e\""));   // an md5-style CDN etag
        assertNull(ExpectedHash.fromEtag(null));
    }

    @Test
    void gitBlobHashMatchesGit(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("hello");
        Files.write(f, "hello\n".getBytes(StandardCharsets.UTF_8));
        // `printf 'hello\n' | git hash-object --stdin`
        ExpectedHash h = new ExpectedHash(ExpectedHash.Kind.GIT_BLOB_SHA1, "ce013625030ba8dba906f756967f9e9ca394464a");
        assertEquals(h.hex(), h.digestOf(f));
    }
}
