package dev.qforge.hub;

import dev.qforge.CacheRoot;

import java.nio.file.Path;
import java.util.Map;

/**
 * Where pulled models go when no --out is given: {@code <cache>/models/<owner>--<name>}, the cache folder being
 * {@link CacheRoot}'s ($QFORGE_CACHE, else $XDG_CACHE_HOME/qforge, else ~/.cache/qforge). One
 * directory per repo, so a second pull of the same model resumes or skips instead of starting over.
 */
public final class ModelCache {
    private ModelCache() {
    }

    public static Path modelDir(Map<String, String> env, RepoId repo) {
        return CacheRoot.of(env).resolve("models").resolve(repo.directoryName());
    }
}
