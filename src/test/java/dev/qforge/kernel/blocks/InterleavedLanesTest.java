package dev.qforge.kernel.blocks;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The decode kernels' f16 conversions are exact for every finite f16 they take. */
class InterleavedLanesTest {
    @Test
    void f16ScalesConvertExactlyForEveryFiniteValue() {
        assertEveryFiniteValueConverts(false);
    }

    @Test
    void f16ScalesConvertExactlyForEveryFiniteValueWithoutSubnormalFloats() {
        assertEveryFiniteValueConverts(true);
    }

    private static void assertEveryFiniteValueConverts(boolean noAssist) {
        MemorySegment s = Arena.ofAuto().allocate(2 * 65536 + 1).asSlice(1); // odd offset, as packed scales may be
        for (int h = 0; h < 65536; h++) {
            // f16sInto reads the scales re-encoded (the layouts store them so), f16sIntoNoAssist as they are
            int r = noAssist ? h : F16Rebiased.of(h);
            s.set(ValueLayout.JAVA_SHORT_UNALIGNED, 2L * h, (short) r);
        }
        float[] out = new float[16];
        for (int base = 0; base < 65536; base += 16) {
            if (noAssist) {
                InterleavedLanes.f16sIntoNoAssist(s, 2L * base, out, 0);
            } else {
                InterleavedLanes.f16sInto(s, 2L * base, out, 0);
            }
            for (int i = 0; i < 16; i++) {
                int h = base + i;
                if ((h & 0x7C00) == 0x7C00 || !noAssist && F16Rebiased.of(h) < 0) {
                    continue; // infinities and NaNs: no quantizer writes them; scales that cannot be re-encoded
                }
                float expected = Float.float16ToFloat((short) h);
                assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(out[i]),
                        "f16 0x" + Integer.toHexString(h) + (noAssist ? " (no assist)" : ""));
            }
        }
    }
}
