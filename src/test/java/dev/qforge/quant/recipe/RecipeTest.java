package dev.qforge.quant.recipe;

import dev.qforge.QforgeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecipeTest {
    @TempDir
    Path tmp;

    private Path write(String yaml) throws IOException {
        Path p = tmp.resolve("recipe" + System.nanoTime() + ".yaml");
        Files.writeString(p, yaml);
        return p;
    }

    @Test
    void aRecipeNamesTypeCalibrationOverridesAndMethodsPerTensor() throws IOException {
        Path p = write("""
                type: Q4_K_M
                calibration: {text: wiki.valid.raw, samples: 64, ctx: 256, seed: 3}
                tensor_types: ["attn_v=Q6_K"]
                modifiers:
                  - rotation: {seed: 5}
                  - awq: {grid: 10}
                  - gptq:
                      targets: ["re:blk\\\\..*"]
                      ignore: ["blk.0.ffn_down.weight"]
                      damp: 0.02
                  - rtn: {targets: ["output.weight", "blk.0.*"]}
                """);
        Recipe r = Recipe.read(p);
        assertEquals("Q4_K_M", r.type());
        assertEquals(tmp.resolve("wiki.valid.raw"), r.calibration().text(), "relative to the recipe's folder");
        assertEquals(64, r.calibration().samples());
        assertEquals(256, r.calibration().ctx());
        assertEquals(List.of("attn_v=Q6_K"), r.tensorTypes());
        assertEquals(5, r.rotation().seed());
        assertEquals(10, r.awq().grid());
        assertEquals("gptq", r.methodFor("blk.3.attn_q.weight").method());
        assertEquals(0.02, r.methodFor("blk.3.attn_q.weight").damp());
        assertEquals("rtn", r.methodFor("blk.0.ffn_down.weight").method(), "ignored by gptq, claimed by rtn");
        assertEquals("rtn", r.methodFor("output.weight").method());
        assertNull(r.methodFor("token_embd.weight"));
        r.requireEveryPatternMatches(List.of("blk.0.ffn_down.weight", "blk.3.attn_q.weight", "output.weight"));
        QforgeException e = assertThrows(QforgeException.class, () -> r.requireEveryPatternMatches(List.of("blk.3.attn_q.weight")));
        assertTrue(e.getMessage().startsWith(p + ": ") && e.getMessage().contains("matches no tensor"), e.getMessage());
    }

    @Test
    void mistakesAreOneLineErrorsNamingTheFile() throws IOException {
        assertRejected("modifiers:\n  - smoothquant: {}\n", "unknown method 'smoothquant'");
        assertRejected("modifiers:\n  - awq: {grid: 0}\n", "AWQ's grid must be 1 to 1000");
        assertRejected("modifiers:\n  - awq: {alpha: 0.5}\n", "unknown key 'awq.alpha'");
        assertRejected("type: Q4_K_M\ncolibration: {}\n", "unknown key 'colibration'");
        assertRejected("modifiers:\n  - gptq: {targets: ['re:(']}\n", "does not compile");
        assertRejected("modifiers:\n  - gptq: {dampening: 1}\n", "unknown key 'gptq.dampening'");
        assertRejected("calibration: {samples: many}\n", "calibration.samples must be a whole number");
        assertRejected("- just\n- a list\n", "a recipe is a YAML mapping");
        assertRejected("type: [unclosed\n", "not a YAML recipe");
        QforgeException e = assertThrows(QforgeException.class, () -> Recipe.read(tmp.resolve("none.yaml")));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
    }

    private void assertRejected(String yaml, String fragment) throws IOException {
        Path p = write(yaml);
        QforgeException e = assertThrows(QforgeException.class, () -> Recipe.read(p));
        assertTrue(e.getMessage().startsWith(p + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "'" + e.getMessage() + "' should contain '" + fragment + "'");
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }
}
