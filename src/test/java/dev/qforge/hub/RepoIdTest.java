package dev.qforge.hub;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class RepoIdTest {
    @Test
    void parsesOwnerAndName() {
        RepoId id = RepoId.parse("HuggingFaceTB/SmolLM2-135M");
        assertEquals("HuggingFaceTB", id.owner());
        assertEquals("SmolLM2-135M", id.name());
        assertEquals("HuggingFaceTB/SmolLM2-135M", id.toString());
        assertEquals("HuggingFaceTB--SmolLM2-135M", id.directoryName());
        assertEquals("Qwen2.5-0.5B_x", RepoId.parse("Qwen/Qwen2.5-0.5B_x").name());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "gpt2", "a/b/c", "/name", "owner/", "own er/x", "o/x?y", "o/x#y", "../x", "o/..",
            "o/a..b", "o/a--b", "-o/x", "o/x-", ".o/x", "o/x.", "o/x.git", "o/ü", "o\\x/y"})
    void rejectsInvalidIds(String id) {
        var e = assertThrows(QforgeException.class, () -> RepoId.parse(id));
        assertFalse(e.getMessage().contains("\n"));
    }

    @Test
    void rejectsOverlongIds() {
        String name = "a".repeat(RepoId.MAX_LENGTH);
        assertThrows(QforgeException.class, () -> RepoId.parse("o/" + name));
        RepoId.parse("o/" + "a".repeat(RepoId.MAX_LENGTH - 2));
    }
}
