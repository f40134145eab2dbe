package dev.qforge.hub;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HubUrlsTest {
    private final RepoId repo = RepoId.parse("acme/tiny-model");
    private final HubUrls urls = new HubUrls(URI.create("https://huggingface.co"));

    @Test
    void fileUrlKeepsSlashesBetweenSegments() {
        assertEquals("https://huggingface.co/acme/tiny-model/resolve/main/config.json",
                urls.file(repo, "main", "config.json").toString());
        assertEquals("https://huggingface.co/acme/tiny-model/resolve/main/onnx/model%20v2.onnx",
                urls.file(repo, "main", "onnx/model v2.onnx").toString());
    }

    @Test
    void encodesReservedAndNonAsciiCharacters() {
        assertEquals("a%23b%3Fc%25d%2Be%26f", HubUrls.encodeSegment("a#b?c%d+e&f"));
        assertEquals("caf%C3%A9", HubUrls.encodeSegment("café"));
        assertEquals("keep-._~AZaz09", HubUrls.encodeSegment("keep-._~AZaz09"));
        assertEquals("dir%20x/f%23.json", HubUrls.encodePath("dir x/f#.json"));
    }

    @Test
    void revisionIsOneSegment() {
        assertEquals("https://huggingface.co/acme/tiny-model/resolve/refs%2Fpr%2F1/config.json",
                urls.file(repo, "refs/pr/1", "config.json").toString());
        assertEquals("https://huggingface.co/api/models/acme/tiny-model/revision/refs%2Fpr%2F1?blobs=true",
                urls.modelInfo(repo, "refs/pr/1").toString());
    }

    @Test
    void endpointFromEnvironment() {
        assertEquals("https://huggingface.co", HubUrls.fromEnvironment(Map.of()).endpoint().toString());
        assertEquals("http://mirror.local:8080/hf",
                HubUrls.fromEnvironment(Map.of("HF_ENDPOINT", "http://mirror.local:8080/hf/")).endpoint().toString());
        assertEquals("http://mirror.local:8080/hf/acme/tiny-model/resolve/main/x",
                HubUrls.fromEnvironment(Map.of("HF_ENDPOINT", "http://mirror.local:8080/hf/"))
                        .file(repo, "main", "x").toString());
        var e = assertThrows(QforgeException.class, () -> HubUrls.fromEnvironment(Map.of("HF_ENDPOINT", "ftp://x")));
        assertTrue(e.getMessage().contains("HF_ENDPOINT"), e.getMessage());
    }

    @Test
    void originComparisonDecidesWhereTheTokenGoes() {
        assertTrue(urls.isEndpoint(URI.create("https://huggingface.co/acme/x/resolve/main/a")));
        assertTrue(urls.isEndpoint(URI.create("https://HuggingFace.co:443/x")));
        assertFalse(urls.isEndpoint(URI.create("https://cdn-lfs.huggingface.co/x")));
        assertFalse(urls.isEndpoint(URI.create("http://huggingface.co/x")));
        assertFalse(urls.isEndpoint(URI.create("https://huggingface.co:8443/x")));
    }
}
