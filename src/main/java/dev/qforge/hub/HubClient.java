package dev.qforge.hub;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qforge.QforgeException;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

/**
 * Talks HTTP to one Hub endpoint: the model-info API and raw file requests. It follows redirects
 * itself rather than letting HttpClient do it, because the token must go only to the Hub: the Hub
 * redirects file downloads to a CDN on another host, and a bearer token sent there would leak.
 */
public final class HubClient {
    public static final String TOKEN_ENV = "HF_TOKEN";
    static final int MAX_REDIRECTS = 10;
    static final String USER_AGENT = "qforge/0.1 (java " + Runtime.version().feature() + ")";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final HubUrls urls;
    private final String token;
    private final HttpClient http;
    private final RetryPolicy retry;
    private final Duration requestTimeout;

    /**
     * @param token a Hub access token, or null to go anonymous
     */
    public HubClient(HubUrls urls, String token, RetryPolicy retry) {
        this(urls, token, retry, HttpClient.newBuilder()
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NEVER)
                .build(), Duration.ofSeconds(60));
    }

    HubClient(HubUrls urls, String token, RetryPolicy retry, HttpClient http, Duration requestTimeout) {
        this.urls = urls;
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.retry = retry;
        this.http = http;
        this.requestTimeout = requestTimeout;
    }

    /** Endpoint from HF_ENDPOINT, token from {@code token} if given, else HF_TOKEN. */
    public static HubClient fromEnvironment(Map<String, String> env, String token) {
        String t = token != null && !token.isBlank() ? token : env.get(TOKEN_ENV);
        return new HubClient(HubUrls.fromEnvironment(env), t, RetryPolicy.DEFAULT);
    }

    public HubUrls urls() {
        return urls;
    }

    public boolean hasToken() {
        return token != null;
    }

    RetryPolicy retry() {
        return retry;
    }

    /** The files and commit of {@code repo} at {@code revision}. */
    public ModelInfo modelInfo(RepoId repo, String revision) {
        URI url = urls.modelInfo(repo, revision);
        for (int failures = 0; ; ) {
            byte[] body;
            try (HubResponse r = send("GET", url, Map.of())) {
                if (r.status() != 200) {
                    if (TransientHttpException.isTransient(r.status())) {
                        throw new TransientHttpException(r.url(), r.status());
                    }
                    throw HubErrors.forStatus(r, repo, revision, null, hasToken(), urls);
                }
                body = r.body().readAllBytes();
            } catch (IOException e) {
                if (++failures >= retry.tries()) {
                    throw HubErrors.failed(url, e, failures);
                }
                retry.pause(failures);
                continue;
            }
            try {
                return ModelInfo.parse(JSON.readTree(body), url);
            } catch (JsonProcessingException e) {
                throw new QforgeException(url + ": model info is not valid JSON: " + e.getOriginalMessage());
            } catch (IOException e) {
                throw new QforgeException(url + ": cannot parse model info: " + e.getMessage(), e);
            }
        }
    }

    /**
     * Sends one request and follows its redirects. The token goes only to the Hub's own origin; other
     * headers (Range) go to every hop. The caller closes the returned response.
     */
    HubResponse send(String method, URI url, Map<String, String> headers) throws IOException {
        String linkedEtag = null;
        long linkedSize = -1;
        URI current = url;
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(current)
                    .timeout(requestTimeout)
                    .method(method, HttpRequest.BodyPublishers.noBody())
                    .header("User-Agent", USER_AGENT);
            headers.forEach(b::header);
            boolean fromHub = urls.isEndpoint(current);
            if (token != null && fromHub) {
                b.header("Authorization", "Bearer " + token);
            }
            HttpResponse<InputStream> r;
            try {
                r = http.send(b.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new QforgeException(current + ": interrupted");
            }
            if (fromHub) {
                linkedEtag = r.headers().firstValue("x-linked-etag").orElse(linkedEtag);
                linkedSize = r.headers().firstValueAsLong("x-linked-size").orElse(linkedSize);
            }
            String location = r.headers().firstValue("location").orElse(null);
            if (isRedirect(r.statusCode()) && location != null) {
                r.body().close();
                if (hop >= MAX_REDIRECTS) {
                    throw new QforgeException(url + ": more than " + MAX_REDIRECTS + " redirects");
                }
                current = resolve(current, location);
                continue;
            }
            String hubEtag = fromHub ? r.headers().firstValue("etag").orElse(null) : null;
            return new HubResponse(r.statusCode(), current, r.headers(), r.body(), linkedEtag, linkedSize, hubEtag);
        }
    }

    private static boolean isRedirect(int status) {
        return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    }

    private static URI resolve(URI base, String location) {
        try {
            URI next = base.resolve(location);
            if (!"http".equalsIgnoreCase(next.getScheme()) && !"https".equalsIgnoreCase(next.getScheme())) {
                throw new QforgeException(base + ": redirect to unsupported URL '" + location + "'");
            }
            return next;
        } catch (IllegalArgumentException e) {
            throw new QforgeException(base + ": redirect to malformed URL '" + location + "'");
        }
    }
}
