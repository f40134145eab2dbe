package dev.qforge.hub;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModelDownloaderTest {
    private static final String WEIGHTS = "model.safetensors";

    @TempDir
    Path dir;
    private FakeHub hub;

    @BeforeEach
    void start() throws IOException {
        hub = new FakeHub();
        hub.files.put("config.json", "{\"model_type\":\"llama\"}".getBytes(StandardCharsets.UTF_8));
        hub.files.put("tokenizer.json", "{\"version\":\"1.0\"}".getBytes(StandardCharsets.UTF_8));
        hub.files.put(WEIGHTS, FakeHub.bytes(300_000, 7));
        hub.files.put("pytorch_model.bin", FakeHub.bytes(1000, 9));
        hub.files.put("README.md", "# tiny".getBytes(StandardCharsets.UTF_8));
        hub.lfs.add(WEIGHTS);
        hub.lfs.add("pytorch_model.bin");
    }

    @AfterEach
    void stop() {
        hub.close();
    }

    private Path pull(String token) {
        return new ModelDownloader(hub.client(token), ProgressPrinter.silent()).download(
                hub.repo(), "main", dir.resolve("out"), FileSelection.defaults());
    }

    private Path out(String file) {
        return dir.resolve("out").resolve(file);
    }

    private static List<String> listing(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).map(p -> root.relativize(p).toString().replace('\\', '/'))
                    .filter(p -> !p.startsWith(".qforge/")).sorted().toList();
        }
    }

    @Test
    void downloadsSelectedFilesThroughCdnRedirectWithoutLeakingTheToken() throws IOException {
        hub.requiredToken = "hf_secret";
        Path local = pull("hf_secret");

        assertEquals(dir.resolve("out").toAbsolutePath(), local);
        assertEquals(List.of("config.json", WEIGHTS, "tokenizer.json"), listing(local));
        for (String f : List.of("config.json", "tokenizer.json", WEIGHTS)) {
            assertArrayEquals(hub.files.get(f), Files.readAllBytes(local.resolve(f)), f);
        }
        // Files come from the commit the listing resolved "main" to.
        assertFalse(hub.requests("hub", "/acme/tiny-model/resolve/" + FakeHub.COMMIT + "/").isEmpty());
        assertTrue(hub.requests("hub", "/acme/tiny-model/resolve/main/").isEmpty());
        for (var r : hub.requests("hub", "/")) {
            assertEquals("Bearer hf_secret", r.header("Authorization"), r.path());
        }
        List<FakeHub.Request> cdn = hub.requests("cdn", "/");
        assertEquals(1, cdn.size());
        assertNull(cdn.getFirst().header("Authorization"), "the token must not go to the CDN host");
    }

    @Test
    void secondPullSkipsCompleteFiles() throws IOException {
        pull(null);
        int before = hub.requests.size();
        pull(null);
        assertEquals(before + 1, hub.requests.size(), "only the model info is fetched again");

        // A file changed on disk is detected by its hash and fetched again.
        Files.write(out("config.json"), "{\"model_type\":\"gpt2\"}".getBytes(StandardCharsets.UTF_8));
        pull(null);
        assertArrayEquals(hub.files.get("config.json"), Files.readAllBytes(out("config.json")));
    }

    @Test
    void resumesAPartialDownloadWithARangeRequest() throws IOException {
        byte[] full = hub.files.get(WEIGHTS);
        Files.createDirectories(dir.resolve("out"));
        Files.write(out(WEIGHTS + ".incomplete"), Arrays.copyOf(full, 100_000));

        pull(null);

        assertArrayEquals(full, Files.readAllBytes(out(WEIGHTS)));
        assertFalse(Files.exists(out(WEIGHTS + ".incomplete")));
        List<FakeHub.Request> cdn = hub.requests("cdn", "/blobs/" + WEIGHTS);
        assertEquals(1, cdn.size());
        assertEquals("bytes=100000-", cdn.getFirst().header("Range"));
        assertEquals("bytes=100000-", hub.requests("hub", "/acme/tiny-model/resolve/" + FakeHub.COMMIT + "/" + WEIGHTS)
                .getFirst().header("Range"), "the Range header follows the redirect");
    }

    @Test
    void serverIgnoringRangeRestartsFromZero() throws IOException {
        hub.ignoreRange = true;
        byte[] full = hub.files.get(WEIGHTS);
        Files.createDirectories(dir.resolve("out"));
        byte[] junk = FakeHub.bytes(120_000, 99);   // not a prefix of the file: appending would corrupt it
        Files.write(out(WEIGHTS + ".incomplete"), junk);

        pull(null);

        assertArrayEquals(full, Files.readAllBytes(out(WEIGHTS)));
        assertEquals(1, hub.requests("cdn", "/blobs/" + WEIGHTS).size());
    }

    @Test
    void stalePartialFromAnotherVersionIsRedownloaded() throws IOException {
        byte[] full = hub.files.get(WEIGHTS);
        Files.createDirectories(dir.resolve("out"));
        Files.write(out(WEIGHTS + ".incomplete"), FakeHub.bytes(100_000, 42));

        pull(null);

        assertArrayEquals(full, Files.readAllBytes(out(WEIGHTS)));
        List<FakeHub.Request> cdn = hub.requests("cdn", "/blobs/" + WEIGHTS);
        assertEquals(2, cdn.size(), "resume, hash mismatch, then a fresh download");
        assertNull(cdn.get(1).header("Range"));
    }

    @Test
    void completePartialWithoutListedSizeIsFinishedAfter416() throws IOException {
        hub.listBlobs = false;
        byte[] full = hub.files.get(WEIGHTS);
        Files.createDirectories(dir.resolve("out"));
        Files.write(out(WEIGHTS + ".incomplete"), full);

        pull(null);

        assertArrayEquals(full, Files.readAllBytes(out(WEIGHTS)));
        List<FakeHub.Request> cdn = hub.requests("cdn", "/blobs/" + WEIGHTS);
        assertEquals(1, cdn.size());
        assertEquals("bytes=" + full.length + "-", cdn.getFirst().header("Range"));
    }

    @Test
    void droppedConnectionIsResumed() throws IOException {
        hub.truncateNext.set(1);
        pull(null);
        for (String f : List.of("config.json", "tokenizer.json", WEIGHTS)) {
            assertArrayEquals(hub.files.get(f), Files.readAllBytes(out(f)), f);
        }
        int half = hub.files.get("config.json").length / 2;
        assertTrue(hub.requests("hub", "/").stream().anyMatch(r -> ("bytes=" + half + "-").equals(r.header("Range"))),
                "the retry resumes where the dropped response stopped");
    }

    @Test
    void serverErrorsAreRetried() throws IOException {
        hub.failNext.set(2);
        pull(null);
        assertArrayEquals(hub.files.get(WEIGHTS), Files.readAllBytes(out(WEIGHTS)));
    }

    @Test
    void persistentServerErrorGivesUpWithAMessage() {
        hub.failNext.set(100);
        var e = assertThrows(QforgeException.class, () -> pull(null));
        assertTrue(e.getMessage().contains("HTTP 503") && e.getMessage().contains("after 3 tries"), e.getMessage());
    }

    @Test
    void hashesFromHeadersAreUsedWhenTheListingHasNone() throws IOException {
        hub.listBlobs = false;
        hub.corrupt.add("config.json");   // served with ETag = git blob sha1 of the real content
        var e = assertThrows(QforgeException.class, () -> pull(null));
        assertTrue(e.getMessage().contains("git blob sha1 mismatch"), e.getMessage());
        hub.corrupt.clear();
        hub.corrupt.add(WEIGHTS);          // checked against X-Linked-Etag from the Hub, not the CDN's ETag
        e = assertThrows(QforgeException.class, () -> pull(null));
        assertTrue(e.getMessage().contains("sha256 mismatch"), e.getMessage());
        hub.corrupt.clear();
        pull(null);
        assertArrayEquals(hub.files.get(WEIGHTS), Files.readAllBytes(out(WEIGHTS)));
    }

    @Test
    void sha256MismatchLeavesNoFile() {
        hub.corrupt.add(WEIGHTS);
        var e = assertThrows(QforgeException.class, () -> pull(null));
        assertTrue(e.getMessage().contains("sha256 mismatch"), e.getMessage());
        assertTrue(e.getMessage().contains(WEIGHTS), e.getMessage());
        assertFalse(Files.exists(out(WEIGHTS)));
        assertFalse(Files.exists(out(WEIGHTS + ".incomplete")));
    }

    @Test
    void missingTokenAndWrongTokenSayWhatToDo() {
        hub.requiredToken = "hf_secret";
        var e = assertThrows(QforgeException.class, () -> pull(null));
        assertTrue(e.getMessage().contains("private or gated") && e.getMessage().contains("HF_TOKEN"), e.getMessage());
        e = assertThrows(QforgeException.class, () -> pull("hf_wrong"));
        assertTrue(e.getMessage().contains("token was refused"), e.getMessage());
    }

    @Test
    void gatedRepoWithoutTokenIsRefusedBeforeDownloading() {
        hub.gated = true;
        var e = assertThrows(QforgeException.class, () -> pull(null));
        assertTrue(e.getMessage().contains("is gated") && e.getMessage().contains("HF_TOKEN"), e.getMessage());
        assertTrue(hub.requests("hub", "/acme/tiny-model/resolve/").isEmpty());
    }

    @Test
    void unknownRepoAndRevisionAre404s() {
        var downloader = new ModelDownloader(hub.client(null), ProgressPrinter.silent());
        var e = assertThrows(QforgeException.class,
                () -> downloader.download(RepoId.parse("acme/nope"), "main", dir, FileSelection.defaults()));
        assertTrue(e.getMessage().startsWith("repository acme/nope or revision 'main' not found (404"), e.getMessage());
        e = assertThrows(QforgeException.class,
                () -> downloader.download(hub.repo(), "v9", dir, FileSelection.defaults()));
        assertTrue(e.getMessage().startsWith("revision 'v9' not found in acme/tiny-model (404"), e.getMessage());
    }

    @Test
    void repoWithoutSafetensorsIsRefused() {
        hub.files.remove(WEIGHTS);
        var e = assertThrows(QforgeException.class, () -> pull(null));
        assertTrue(e.getMessage().contains("no .safetensors weights") && e.getMessage().contains("pytorch_model.bin"),
                e.getMessage());
    }

    @Test
    void shardIndexSelectsWeightFilesAndIncludeAddsMore() throws IOException {
        hub.files.remove(WEIGHTS);
        hub.files.put("model.safetensors.index.json",
                ("{\"metadata\":{},\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                        + "\"b\":\"model-00002-of-00002.safetensors\"}}").getBytes(StandardCharsets.UTF_8));
        hub.files.put("model-00001-of-00002.safetensors", FakeHub.bytes(5000, 1));
        hub.files.put("model-00002-of-00002.safetensors", FakeHub.bytes(6000, 2));
        hub.files.put("consolidated.safetensors", FakeHub.bytes(11000, 3));
        hub.lfs.addAll(List.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "consolidated.safetensors"));

        new ModelDownloader(hub.client(null), ProgressPrinter.silent()).download(hub.repo(), "main", dir.resolve("out"),
                FileSelection.of(List.of("*.bin"), List.of("tokenizer.json")));

        assertEquals(List.of("config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                "model.safetensors.index.json", "pytorch_model.bin"), listing(dir.resolve("out")));
    }

    @Test
    void unsafeFileNamesInTheListingAreRefused() {
        hub.files.put("../../evil.safetensors", new byte[]{1});
        var e = assertThrows(QforgeException.class, () -> pull(null));
        assertTrue(e.getMessage().contains("unsafe file name"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("evil.safetensors")));
    }

    @Test
    void nestedAndOddlyNamedFilesAreEncodedAndStored() throws IOException {
        hub.files.put("extra dir/notes #1.txt", "x".getBytes(StandardCharsets.UTF_8));
        new ModelDownloader(hub.client(null), ProgressPrinter.silent()).download(hub.repo(), "main", dir.resolve("out"),
                FileSelection.of(List.of("extra dir/"), List.of()));
        assertEquals("x", Files.readString(out("extra dir/notes #1.txt")));
        assertFalse(hub.requests("hub", "/acme/tiny-model/resolve/" + FakeHub.COMMIT + "/extra%20dir/notes%20%231.txt")
                .isEmpty());
    }

    @Test
    void unreachableEndpointGivesOneLineError() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        HubClient client = new HubClient(new HubUrls(URI.create("http://127.0.0.1:" + port)), null,
                new RetryPolicy(3, Duration.ofMillis(1)));
        var e = assertThrows(QforgeException.class,
                () -> new ModelDownloader(client, ProgressPrinter.silent()).download("acme/tiny-model", "main", dir));
        assertTrue(e.getMessage().startsWith("cannot reach http://127.0.0.1:" + port + " ("), e.getMessage());
        assertTrue(e.getMessage().endsWith("check the network or set HF_ENDPOINT"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"));
    }
}
