package dev.qforge.quant.transform;

import dev.qforge.model.InferenceState;
import dev.qforge.runtime.QModel;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The check every function-preserving transform owes: the transformed float model gives the same logits. */
public final class SameFunction {
    private static final int[] TOKENS = {1, 17, 305, 42, 99, 7, 250, 3, 64, 128, 11, 400};

    private SameFunction() {
    }

    /** Asserts the two model folders' logits on a fixed sequence agree to float error (1e-4 of the largest). */
    public static void assertSameLogits(Path original, Path transformed, String what) {
        float[] a = logits(original);
        float[] b = logits(transformed);
        double largest = 0;
        double worst = 0;
        for (int i = 0; i < a.length; i++) {
            largest = Math.max(largest, Math.abs(a[i]));
            worst = Math.max(worst, Math.abs(a[i] - b[i]));
        }
        assertTrue(worst <= 1e-4 * Math.max(1, largest), what + ": logits differ by " + worst + " (largest " + largest + ")");
    }

    private static float[] logits(Path dir) {
        try (QModel m = QModel.load(dir)) {
            InferenceState s = m.decoder().newState(TOKENS.length);
            return m.decoder().forward(s, TOKENS, 0, TOKENS.length, TOKENS.length);
        }
    }
}
