package dev.qforge.quant.rotation;

import dev.qforge.model.SyntheticModel;
import dev.qforge.model.SyntheticShape;
import dev.qforge.quant.transform.SameFunction;
import dev.qforge.tensor.DType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A rotation folded into the weights must leave the float model's function as it was. */
class ModelRotationTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8, 12, 16, 20, 24, 28, 36, 40, 48, 768, 1536})
    void hadamardMatricesAreHadamard(int n) {
        int[] h = Hadamard.matrix(n);
        assertNotNull(h, "a Hadamard matrix of order " + n);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                long dot = 0;
                for (int k = 0; k < n; k++) {
                    assertTrue(Math.abs(h[i * n + k]) == 1);
                    dot += (long) h[i * n + k] * h[j * n + k];
                }
                assertEquals(i == j ? n : 0, dot, "rows " + i + ", " + j + " of order " + n);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {7, 96, 100})
    void otherWidthsGetARandomOrthogonalMatrix(int n) {
        float[] q = Hadamard.randomOrthogonal(n, 5);
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double dot = 0;
                for (int k = 0; k < n; k++) {
                    dot += (double) q[i * n + k] * q[j * n + k];
                }
                assertEquals(i == j ? 1 : 0, dot, 1e-5);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = SyntheticShape.class, names = {"TINY_LLAMA", "TINY_LLAMA_TIED", "TINY_QWEN2", "TINY_QWEN3"})
    void theRotatedModelComputesTheSameLogits(SyntheticShape shape) {
        Path model = tmp.resolve(shape.id());
        SyntheticModel.write(shape.config(), DType.F32, 11, Long.MAX_VALUE, model, null);
        Path rotated = tmp.resolve(shape.id() + "-rotated");
        ModelRotation.write(model, rotated, 3);
        SameFunction.assertSameLogits(model, rotated, shape.toString());
    }
}
