package dev.qforge.hub;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpHeaders;

/**
 * The final response of a request after its redirects, plus what the Hub said on the way. The Hub
 * answers a request for an LFS file with a redirect to its CDN and puts the file's sha256 and size in
 * that redirect (X-Linked-Etag, X-Linked-Size); the CDN's own ETag is not a content hash. So the hash
 * is taken from the Hub's hops only.
 *
 * @param url        the URL that gave this final response
 * @param linkedEtag X-Linked-Etag from a Hub hop, or null
 * @param linkedSize X-Linked-Size from a Hub hop, or -1
 * @param hubEtag    ETag of the final response if the Hub itself served it, or null
 */
record HubResponse(int status, URI url, HttpHeaders headers, InputStream body,
                   String linkedEtag, long linkedSize, String hubEtag) implements Closeable {

    /** The content hash the Hub announced for this file, or null. */
    ExpectedHash announcedHash() {
        ExpectedHash h = ExpectedHash.fromEtag(linkedEtag);
        return h != null ? h : ExpectedHash.fromEtag(hubEtag);
    }

    String header(String name) {
        return headers.firstValue(name).orElse(null);
    }

    long contentLength() {
        return headers.firstValueAsLong("content-length").orElse(-1);
    }

    @Override
    public void close() throws IOException {
        body.close();
    }
}
