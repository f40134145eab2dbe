package dev.qforge;

import java.nio.file.Path;
import java.util.Map;

/**
 * The folder qforge keeps what it can make again under (pulled models, synthetic benchmark models, the native
 * libraries it extracts): {@code $QFORGE_CACHE}, else {@code $XDG_CACHE_HOME/qforge}, else {@code ~/.cache/qforge}.
 * Here, below every package that writes there, so that the rule is stated once.
 */
public final class CacheRoot {
    public static final String ENV = "QFORGE_CACHE";

    private CacheRoot() {
    }

    /** The cache folder for the environment env (not created). */
    public static Path of(Map<String, String> env) {
        String own = env.get(ENV);
        if (own != null && !own.isBlank()) {
            return Path.of(own);
        }
        String xdg = env.get("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "qforge");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "qforge");
    }
}
