package dev.qforge.hub;

import dev.qforge.QforgeException;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.nio.channels.UnresolvedAddressException;

/**
 * Turns Hub failures into one-line messages that say what to do. The Hub answers 401 both for private
 * or gated repos and, to avoid revealing what exists, for repos that do not exist; its X-Error-Code
 * header (RepoNotFound, GatedRepo, RevisionNotFound, EntryNotFound) tells them apart when present.
 */
final class HubErrors {
    private HubErrors() {
    }

    static QforgeException forStatus(HubResponse r, RepoId repo, String revision, String file,
                                     boolean hasToken, HubUrls urls) {
        int status = r.status();
        String code = r.header("x-error-code");
        String where = " (" + status + " from " + r.url() + ")";
        if ("GatedRepo".equals(code)) {
            return new QforgeException(repo + " is gated" + where + ": accept its terms at " + urls.page(repo)
                    + ", then set HF_TOKEN or pass --token with a token of that account");
        }
        if ("RevisionNotFound".equals(code)) {
            return new QforgeException("revision '" + revision + "' not found in " + repo + where);
        }
        if ("EntryNotFound".equals(code) && file != null) {
            return new QforgeException(file + " not found in " + repo + " at revision '" + revision + "'" + where);
        }
        return switch (status) {
            case 401 -> new QforgeException(hasToken
                    ? repo + ": the token was refused or has no access" + where + ": check HF_TOKEN / --token"
                    : repo + " is private or gated (or does not exist)" + where
                            + ": set HF_TOKEN or pass --token with a token that can read it");
            case 403 -> new QforgeException(repo + ": access denied" + where + ": the repo is gated or private; "
                    + "accept its terms at " + urls.page(repo) + " and set HF_TOKEN or pass --token");
            case 404 -> new QforgeException(file == null
                    ? "repository " + repo + " or revision '" + revision + "' not found" + where
                    : file + " not found in " + repo + " at revision '" + revision + "'" + where);
            default -> new QforgeException(r.url() + ": unexpected HTTP " + status);
        };
    }

    /** The message once retries are used up. */
    static QforgeException failed(URI url, IOException e, int tries) {
        if (isConnectFailure(e)) {
            return new QforgeException("cannot reach " + origin(url) + " (" + describe(e)
                    + "): check the network or set HF_ENDPOINT", e);
        }
        if (e instanceof TransientHttpException) {
            return new QforgeException(e.getMessage() + " after " + tries + " tries: the server is having trouble, try again later", e);
        }
        return new QforgeException(url + ": download failed after " + tries + " tries (" + describe(e)
                + "); run pull again to resume", e);
    }

    /** The request never reached a server: no DNS, no route, refused, or connect timeout. */
    static boolean isConnectFailure(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ConnectException || t instanceof UnresolvedAddressException
                    || t instanceof UnknownHostException || t instanceof HttpConnectTimeoutException) {
                return true;
            }
        }
        return false;
    }

    /** The most telling message in the cause chain; the JDK's HTTP client often leaves the outer one null. */
    static String describe(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof UnresolvedAddressException || t instanceof UnknownHostException) {
                return "unknown host";
            }
            if (t instanceof HttpConnectTimeoutException) {
                return "connection timed out";
            }
        }
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                return t.getMessage().strip().replaceAll("\\s+", " ");
            }
        }
        return e.getClass().getSimpleName();
    }

    private static String origin(URI url) {
        return url.getScheme() + "://" + url.getRawAuthority();
    }
}
