package dev.qforge.hub;

/**
 * One file of a repo as the model-info listing describes it. Size and hash are optional because a
 * mirror (or an API call without blobs=true) may omit them; the download then falls back to the
 * response headers.
 *
 * @param path repo-relative path with '/' separators, already checked to stay inside the repo
 * @param size bytes, or -1 when unknown
 * @param hash the published hash, or null when unknown
 */
public record RepoFile(String path, long size, ExpectedHash hash) {
}
