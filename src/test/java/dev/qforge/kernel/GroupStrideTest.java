package dev.qforge.kernel;

import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.kernel.blocks.DecodeStreams;
import dev.qforge.kernel.blocks.InterleavedLayout;
import dev.qforge.kernel.blocks.QuantizedInput;
import dev.qforge.tensor.WeightMatrix;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** A layout that spaces its packed groups apart (Q8_0 at page-sized groups) decodes exactly what compact groups do. */
class GroupStrideTest {
    @Test
    void q8_0GroupsSpacedApartGiveTheFloatsOfCompactGroups() {
        BlockFormat f = BlockFormats.byName("Q8_0");
        InterleavedLayout layout = f.interleavedLayout();
        int cols = 2048; // 64 blocks of 1088 bytes per group: 17 pages of 4 KiB
        int rows = 200; // four-group steps and single groups, the last one partial
        assertEquals(0, layout.groupBytes(cols) % 4096);
        // spaced where four groups are read at once (the build's tests run so: -Dqforge.decode.groups=4)
        assertEquals(DecodeStreams.GROUPS == 4, layout.groupStride(cols) > layout.groupBytes(cols));
        assertEquals(layout.groupBytes(768), layout.groupStride(768)); // not page-sized: compact

        Random rnd = new Random(5);
        WeightMatrix w = GaussianMatrices.quantized(f, rows, cols, rnd, Arena.ofAuto().allocate(rows * f.rowBytes(cols), 64));
        float[] x = new float[cols];
        for (int i = 0; i < cols; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        float[] decoded = new float[rows];
        MatMul.matmul(w, x, 1, decoded); // packs with the layout's stride, on all threads

        long compact = layout.groupBytes(cols);
        int groups = (rows + 31) / 32;
        MemorySegment packed = Arena.ofAuto().allocate(compact * groups, 64);
        QuantizedInput q = new QuantizedInput().set(x, 0, cols);
        layout.prepare(q);
        float[] expected = new float[rows];
        for (int g = 0; g < groups; g++) {
            int n = Math.min(32, rows - 32 * g);
            layout.pack(w.data(), 32L * g * w.rowBytes(), w.rowBytes(), n, cols, packed, g * compact);
            layout.dot(packed, g * compact, cols, q, expected, 32 * g, n);
        }
        assertArrayEquals(expected, decoded);
    }
}
