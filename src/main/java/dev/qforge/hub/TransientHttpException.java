package dev.qforge.hub;

import java.io.IOException;
import java.net.URI;

/**
 * A response worth retrying (5xx, 429): an IOException so it takes the same retry path as a dropped
 * connection.
 */
final class TransientHttpException extends IOException {
    private static final long serialVersionUID = 1L;

    TransientHttpException(URI url, int status) {
        super("HTTP " + status + " from " + url);
    }

    static boolean isTransient(int status) {
        return status >= 500 || status == 429 || status == 408;
    }
}
