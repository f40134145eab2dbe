package dev.qforge.numeric;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FloatBitsTest {
    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3F80, FloatBits.floatToBf16(1.0f));
        // 1 + 2^-8 is exactly halfway between two BF16 values: ties go to the even one (1.0).
        assertEquals((short) 0x3F80, FloatBits.floatToBf16(1.00390625f));
        // 1 + 3·2^-8 is halfway between 1+2^-7 (odd mantissa) and 1+2^-6: goes up to the even one.
        assertEquals((short) 0x3F82, FloatBits.floatToBf16(1.01171875f));
        assertTrue(Float.isNaN(FloatBits.bf16ToFloat(FloatBits.floatToBf16(Float.NaN))));
        assertEquals(-2.5f, FloatBits.bf16ToFloat(FloatBits.floatToBf16(-2.5f)));
    }

    @Test
    void fp8E4M3KnownValues() {
        assertEquals(0f, FloatBits.e4m3ToFloat((byte) 0x00));
        assertEquals(1f, FloatBits.e4m3ToFloat((byte) 0x38));       // exponent 7 = bias, mantissa 0
        assertEquals(448f, FloatBits.e4m3ToFloat((byte) 0x7E));     // the largest finite value
        assertEquals(-448f, FloatBits.e4m3ToFloat((byte) 0xFE));
        assertEquals(0x1p-9f, FloatBits.e4m3ToFloat((byte) 0x01));  // the smallest subnormal
        assertTrue(Float.isNaN(FloatBits.e4m3ToFloat((byte) 0x7F)));
    }

    @Test
    void fp8E5M2KnownValues() {
        assertEquals(1f, FloatBits.e5m2ToFloat((byte) 0x3C));
        assertEquals(57344f, FloatBits.e5m2ToFloat((byte) 0x7B));   // the largest finite value
        assertEquals(Float.POSITIVE_INFINITY, FloatBits.e5m2ToFloat((byte) 0x7C));
        assertEquals(0x1p-16f, FloatBits.e5m2ToFloat((byte) 0x01));
    }
}
