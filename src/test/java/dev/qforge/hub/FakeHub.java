package dev.qforge.hub;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for the Hub on loopback: the model-info API, /resolve/ for files, and a second server on
 * another port playing the CDN that LFS files redirect to, as the real Hub does. Each test sets the
 * switches it needs and inspects the recorded requests.
 */
public final class FakeHub implements AutoCloseable {
    public static final String OWNER = "acme";
    public static final String NAME = "tiny-model";
    public static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    public record Request(String server, String method, String path, Map<String, List<String>> headers) {
        public String header(String name) {
            for (var e : headers.entrySet()) {
                if (e.getKey().equalsIgnoreCase(name)) {
                    return e.getValue().getFirst();
                }
            }
            return null;
        }
    }

    public final Map<String, byte[]> files = new LinkedHashMap<>();
    /** Files kept in LFS: /resolve/ redirects them to the CDN with X-Linked-Etag = sha256. */
    public final Set<String> lfs = new HashSet<>();
    /** Files served with one byte changed, so their content no longer matches the published hash. */
    final Set<String> corrupt = new HashSet<>();
    /** List size and hashes in the model info (as the Hub does with blobs=true). */
    boolean listBlobs = true;
    /** The CDN sends 200 with the whole file even when asked for a range. */
    boolean ignoreRange;
    /** When set, every Hub request must carry "Bearer " + this, else 401. */
    public String requiredToken;
    /** Answer this many file requests with 503 before serving normally. */
    final AtomicInteger failNext = new AtomicInteger();
    /** Cut this many file responses off halfway through the body. */
    final AtomicInteger truncateNext = new AtomicInteger();
    boolean gated;

    public final List<Request> requests = Collections.synchronizedList(new ArrayList<>());
    private final HttpServer hub;
    private final HttpServer cdn;

    public FakeHub() throws IOException {
        hub = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        cdn = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        hub.createContext("/", ex -> handle("hub", ex, this::hub));
        cdn.createContext("/", ex -> handle("cdn", ex, this::cdn));
        hub.start();
        cdn.start();
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + hub.getAddress().getPort());
    }

    URI cdnBase() {
        return URI.create("http://127.0.0.1:" + cdn.getAddress().getPort());
    }

    HubClient client(String token) {
        return new HubClient(new HubUrls(endpoint()), token, new RetryPolicy(3, Duration.ofMillis(1)));
    }

    RepoId repo() {
        return new RepoId(OWNER, NAME);
    }

    public List<Request> requests(String server, String pathPrefix) {
        synchronized (requests) {
            return requests.stream().filter(r -> r.server().equals(server) && r.path().startsWith(pathPrefix)).toList();
        }
    }

    public static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static String gitSha1(byte[] b) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-1");
            d.update(("blob " + b.length + "\0").getBytes(StandardCharsets.US_ASCII));
            return HexFormat.of().formatHex(d.digest(b));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private interface Handler {
        void handle(HttpExchange ex) throws IOException;
    }

    private void handle(String server, HttpExchange ex, Handler h) throws IOException {
        requests.add(new Request(server, ex.getRequestMethod(), ex.getRequestURI().getRawPath(),
                Map.copyOf(ex.getRequestHeaders())));
        try (ex) {
            h.handle(ex);
        }
    }

    private void hub(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getRawPath();
        if (requiredToken != null && !("Bearer " + requiredToken).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
            send(ex, 401, "{\"error\":\"Invalid credentials\"}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        String api = "/api/models/" + OWNER + "/" + NAME + "/revision/";
        String resolve = "/" + OWNER + "/" + NAME + "/resolve/";
        if (path.startsWith(api)) {
            String rev = path.substring(api.length());
            if (!rev.equals("main") && !rev.equals(COMMIT)) {
                ex.getResponseHeaders().add("X-Error-Code", "RevisionNotFound");
                send(ex, 404, new byte[0]);
                return;
            }
            send(ex, 200, info());
        } else if (path.startsWith(resolve)) {
            String rest = path.substring(resolve.length());
            String file = rest.substring(rest.indexOf('/') + 1);
            byte[] content = files.get(decode(file));
            if (content == null) {
                ex.getResponseHeaders().add("X-Error-Code", "EntryNotFound");
                send(ex, 404, new byte[0]);
            } else if (lfs.contains(decode(file))) {
                ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha256(content) + "\"");
                ex.getResponseHeaders().add("X-Linked-Size", String.valueOf(content.length));
                ex.getResponseHeaders().add("ETag", "\"not-the-content-hash\"");
                ex.getResponseHeaders().add("Location", cdnBase() + "/blobs/" + file);
                send(ex, 302, new byte[0]);
            } else {
                ex.getResponseHeaders().add("ETag", "\"" + gitSha1(content) + "\"");
                serveFile(ex, decode(file), content);
            }
        } else {
            ex.getResponseHeaders().add("X-Error-Code", "RepoNotFound");
            send(ex, 404, new byte[0]);
        }
    }

    private void cdn(HttpExchange ex) throws IOException {
        String file = decode(ex.getRequestURI().getRawPath().substring("/blobs/".length()));
        byte[] content = files.get(file);
        if (content == null) {
            send(ex, 404, new byte[0]);
            return;
        }
        ex.getResponseHeaders().add("ETag", "\"cdn-etag-1234\"");
        serveFile(ex, file, content);
    }

    private void serveFile(HttpExchange ex, String file, byte[] content) throws IOException {
        if (failNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            send(ex, 503, new byte[0]);
            return;
        }
        byte[] body = content;
        if (corrupt.contains(file)) {
            body = content.clone();
            body[body.length / 2] ^= 1;
        }
        String range = ex.getRequestHeaders().getFirst("Range");
        int status = 200;
        if (range != null && !ignoreRange) {
            int start = Integer.parseInt(range.substring("bytes=".length(), range.length() - 1));
            if (start >= body.length) {
                ex.getResponseHeaders().add("Content-Range", "bytes */" + body.length);
                send(ex, 416, new byte[0]);
                return;
            }
            ex.getResponseHeaders().add("Content-Range", "bytes " + start + "-" + (body.length - 1) + "/" + body.length);
            body = Arrays.copyOfRange(body, start, body.length);
            status = 206;
        }
        if (truncateNext.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            // Promise the whole body, send half, and drop the connection, like a network failure mid-file.
            ex.sendResponseHeaders(status, body.length);
            OutputStream out = ex.getResponseBody();
            out.write(body, 0, body.length / 2);
            out.flush();
            throw new IOException("simulated drop");
        }
        send(ex, status, body);
    }

    private byte[] info() throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("id", OWNER + "/" + NAME);
        root.put("sha", COMMIT);
        if (gated) {
            root.put("gated", "manual");
        } else {
            root.put("gated", false);
        }
        ArrayNode siblings = root.putArray("siblings");
        for (var e : files.entrySet()) {
            ObjectNode s = siblings.addObject();
            s.put("rfilename", e.getKey());
            if (listBlobs) {
                s.put("size", e.getValue().length);
                if (lfs.contains(e.getKey())) {
                    s.put("blobId", "ffffffffffffffffffffffffffffffffffffffff");
                    s.putObject("lfs").put("sha256", sha256(e.getValue())).put("size", e.getValue().length);
                } else {
                    s.put("blobId", gitSha1(e.getValue()));
                }
            }
        }
        return json.writeValueAsBytes(root);
    }

    private static String decode(String raw) {
        return URI.create("x:/" + raw).getPath().substring(1);
    }

    private static void send(HttpExchange ex, int status, byte[] body) throws IOException {
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head || body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) {
            ex.getResponseBody().write(body);
        }
    }

    @Override
    public void close() {
        hub.stop(0);
        cdn.stop(0);
    }
}
