package dev.qforge.hub;

import java.nio.file.Path;
import java.util.Map;

/**
 * Where pulled models go when no --out is given: {@code $QFORGE_CACHE/models/<owner>--<name>}, with
 * QFORGE_CACHE defaulting to {@code $XDG_CACHE_HOME/qforge} or {@code ~/.cache/qforge}. One
 * directory per repo, so a second pull of the same model resumes or skips instead of starting over.
 */
public final class ModelCache {
    public static final String CACHE_ENV = "QFORGE_CACHE";

    private ModelCache() {
    }

    public static Path root(Map<String, String> env) {
        String cache = env.get(CACHE_ENV);
        if (cache != null && !cache.isBlank()) {
            return Path.of(cache);
        }
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "qforge");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "qforge");
    }

    public static Path modelDir(Map<String, String> env, RepoId repo) {
        return root(env).resolve("models").resolve(repo.directoryName());
    }
}
