package dev.qforge;

import dev.qforge.hub.ModelCache;
import dev.qforge.hub.RepoId;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class CacheRootTest {
    private static final Path HOME_CACHE = Path.of(System.getProperty("user.home"), ".cache", "qforge");

    @Test
    void qforgeCacheWinsThenXdgThenHome() {
        assertEquals(Path.of("/q"), CacheRoot.of(Map.of("QFORGE_CACHE", "/q", "XDG_CACHE_HOME", "/x")));
        assertEquals(Path.of("/x", "qforge"), CacheRoot.of(Map.of("XDG_CACHE_HOME", "/x")));
        assertEquals(HOME_CACHE, CacheRoot.of(Map.of()));
    }

    @Test
    void blankVariablesCountAsUnset() {
        assertEquals(Path.of("/x", "qforge"), CacheRoot.of(Map.of("QFORGE_CACHE", " ", "XDG_CACHE_HOME", "/x")));
        assertEquals(HOME_CACHE, CacheRoot.of(Map.of("QFORGE_CACHE", "", "XDG_CACHE_HOME", "")));
    }

    @Test
    void pulledModelsGoUnderTheSameRoot() {
        RepoId repo = RepoId.parse("owner/name");
        assertEquals(Path.of("/q", "models", repo.directoryName()),
                ModelCache.modelDir(Map.of("QFORGE_CACHE", "/q"), repo));
    }
}
