package dev.qforge.tokenizer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Prints how long WikiText-2 test (1.3 MB) takes to encode after warm-up; informative, asserts no time. */
class SpeedTest {
    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "qwen2.5", "llama3", "qforge-tiny-llama"})
    void wikiTextEncodeTime(String name) {
        Tokenizer t = ReferenceTokenizers.tokenizer(name);
        String wiki = ReferenceTokenizers.text("wikitext2_test");
        int[] ids = t.encode(wiki); // warm-up: JIT and word cache
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            long start = System.nanoTime();
            ids = t.encode(wiki);
            best = Math.min(best, System.nanoTime() - start);
        }
        long startDecode = System.nanoTime();
        String back = t.decode(ids);
        long decodeNanos = System.nanoTime() - startDecode;
        System.out.printf("[tokenizer speed] %-18s WikiText-2 test: %,d chars -> %,d ids, encode %.1f ms (best of 5, warm), decode %.1f ms%n",
                name, wiki.length(), ids.length, best / 1e6, decodeNanos / 1e6);
        assertTrue(ids.length > 0 && !back.isEmpty());
    }
}
