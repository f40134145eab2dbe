package dev.qforge.kernel.blocks;

import dev.qforge.SharedData;
import dev.qforge.format.SafetensorsFile;
import dev.qforge.tensor.Tensor;

import java.lang.foreign.ValueLayout;

/**
 * llama.cpp's outputs for one type on the shared block-format input (reference/ggml-blocks/&lt;type&gt;.safetensors):
 * 8 rows of 512 weights, per-column importance, and for each mode (plain, imatrix) the quantized bytes
 * and their dequantization. A mode llama.cpp cannot do is null.
 */
record ReferenceVectors(float[][] input, float[] importance, int rowBytes,
                        byte[] quant, float[][] dequant, byte[] quantImatrix, float[][] dequantImatrix) {
    static final int ROWS = 8;
    static final int COLS = 512;

    /** Loads the vectors, or skips the test when the shared data is absent. */
    static ReferenceVectors load(String type) {
        try (SafetensorsFile f = SafetensorsFile.open(SharedData.require("reference/ggml-blocks/" + type + ".safetensors"))) {
            int rowBytes = Integer.parseInt(f.metadata().get("row_bytes"));
            return new ReferenceVectors(rows(f.tensor("input")), rows(f.tensor("importance"))[0], rowBytes,
                    f.contains("quant") ? bytes(f.tensor("quant")) : null,
                    f.contains("dequant") ? rows(f.tensor("dequant")) : null,
                    f.contains("quant_imatrix") ? bytes(f.tensor("quant_imatrix")) : null,
                    f.contains("dequant_imatrix") ? rows(f.tensor("dequant_imatrix")) : null);
        }
    }

    private static float[][] rows(Tensor t) {
        int cols = (int) t.dim(t.rank() - 1);
        int rows = (int) (t.elementCount() / cols);
        float[][] out = new float[rows][cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[r][c] = t.getFloat((long) r * cols + c);
            }
        }
        return out;
    }

    private static byte[] bytes(Tensor t) {
        return t.data().toArray(ValueLayout.JAVA_BYTE);
    }
}
