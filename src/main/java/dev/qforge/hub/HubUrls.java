package dev.qforge.hub;

import dev.qforge.QforgeException;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;

/**
 * Builds the Hub's URLs from one endpoint. The endpoint is a constructor argument (not read from the
 * environment here) so tests and mirrors can point the whole client at another server; only
 * {@link #fromEnvironment} looks at {@code HF_ENDPOINT}, like huggingface_hub does.
 */
public final class HubUrls {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";
    public static final String ENDPOINT_ENV = "HF_ENDPOINT";

    private final URI endpoint;

    public HubUrls(URI endpoint) {
        String scheme = endpoint.getScheme() == null ? "" : endpoint.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("https") && !scheme.equals("http") || endpoint.getHost() == null) {
            throw new QforgeException("Hub endpoint '" + endpoint + "' is not an http(s) URL; check HF_ENDPOINT");
        }
        // A trailing slash would produce "//" in every URL, which some mirrors reject.
        String text = endpoint.toString();
        while (text.endsWith("/")) {
            text = text.substring(0, text.length() - 1);
        }
        this.endpoint = URI.create(text);
    }

    /** The endpoint named by {@code HF_ENDPOINT}, or the public Hub. */
    public static HubUrls fromEnvironment(Map<String, String> env) {
        String value = env.get(ENDPOINT_ENV);
        if (value == null || value.isBlank()) {
            return new HubUrls(URI.create(DEFAULT_ENDPOINT));
        }
        try {
            return new HubUrls(new URI(value.strip()));
        } catch (URISyntaxException e) {
            throw new QforgeException(ENDPOINT_ENV + "='" + value + "' is not a valid URL: " + e.getReason());
        }
    }

    public URI endpoint() {
        return endpoint;
    }

    /** {endpoint}/{repo}/resolve/{revision}/{path}: the raw file, which the Hub may redirect to its CDN. */
    public URI file(RepoId repo, String revision, String path) {
        return URI.create(endpoint + "/" + repo + "/resolve/" + encodeSegment(revision) + "/" + encodePath(path));
    }

    /**
     * The model-info API at one revision. blobs=true makes the Hub list each file's size and hash
     * (sha256 for LFS files, git blob id otherwise), so downloads can be checked and skipped without
     * an extra request per file.
     */
    public URI modelInfo(RepoId repo, String revision) {
        return URI.create(endpoint + "/api/models/" + repo + "/revision/" + encodeSegment(revision) + "?blobs=true");
    }

    /** The repo's page, for messages that send the user there (e.g. to accept a gated model's terms). */
    public URI page(RepoId repo) {
        return URI.create(endpoint + "/" + repo);
    }

    /** True when {@code uri} is served by the endpoint itself (same scheme, host and port), not a CDN. */
    public boolean isEndpoint(URI uri) {
        return sameOrigin(endpoint, uri);
    }

    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme() != null && a.getScheme().equalsIgnoreCase(b.getScheme())
                && a.getHost() != null && a.getHost().equalsIgnoreCase(b.getHost())
                && port(a) == port(b);
    }

    private static int port(URI u) {
        if (u.getPort() >= 0) {
            return u.getPort();
        }
        return "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /** Encodes each '/'-separated segment but keeps the slashes, as the Hub expects for nested files. */
    public static String encodePath(String path) {
        String[] segments = path.split("/", -1);
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < segments.length; i++) {
            if (i > 0) {
                out.append('/');
            }
            out.append(encodeSegment(segments[i]));
        }
        return out.toString();
    }

    /**
     * Percent-encodes UTF-8 bytes of everything except RFC 3986 unreserved characters. Unlike
     * URLEncoder (form encoding) it writes a space as %20, never '+', and it encodes '/', so a
     * revision like refs/pr/1 stays one path segment.
     */
    public static String encodeSegment(String segment) {
        StringBuilder out = new StringBuilder();
        for (byte b : segment.getBytes(StandardCharsets.UTF_8)) {
            int c = b & 0xff;
            if (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
                    || c == '-' || c == '.' || c == '_' || c == '~') {
                out.append((char) c);
            } else {
                out.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return out.toString();
    }
}
