package dev.qforge.kernel.blocks;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The decode kernels' f16 scale conversion is exact for every f16 scale the layouts store. */
class InterleavedLanesTest {
    @Test
    void f16ScalesConvertExactlyForEveryValueThatCanBeReencoded() {
        MemorySegment s = Arena.ofAuto().allocate(2 * 65536 + 1).asSlice(1); // odd offset, as packed scales may be
        for (int h = 0; h < 65536; h++) {
            // f16sInto reads the scales re-encoded, as the layouts store them
            s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * h, (short) F16Rebiased.of(h));
        }
        float[] out = new float[16];
        for (int base = 0; base < 65536; base += 16) {
            InterleavedLanes.f16sInto(s, 2L * base, out, 0);
            for (int i = 0; i < 16; i++) {
                int h = base + i;
                if (F16Rebiased.of(h) < 0) {
                    continue; // 128 or more, infinities and NaNs: a layout that meets one does not pack the matrix
                }
                float expected = Float.float16ToFloat((short) h);
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(out[i]),
                        "f16 0x" + Integer.toHexString(h));
            }
        }
    }
}
