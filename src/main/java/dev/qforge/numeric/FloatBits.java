package dev.qforge.numeric;

/** Conversions between float32 and the narrower float encodings that model files use. */
public final class FloatBits {
    private FloatBits() {
    }

    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Round to nearest even, as PyTorch does; NaN stays NaN. */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    public static short floatToF16(float value) {
        return Float.floatToFloat16(value);
    }

    /** OCP FP8 E4M3 ("fn" variant: no infinities, only S.1111.111 is NaN), as in PyTorch's float8_e4m3fn. */
    public static float e4m3ToFloat(byte b) {
        int sign = (b & 0x80) != 0 ? -1 : 1;
        int exponent = (b >>> 3) & 0xF;
        int mantissa = b & 0x7;
        if (exponent == 0xF && mantissa == 0x7) {
            return Float.NaN;
        }
        if (exponent == 0) {
            return sign * mantissa * 0x1p-9f; // subnormal: m/8 * 2^-6
        }
        return sign * (1 + mantissa / 8f) * Math.scalb(1f, exponent - 7);
    }

    /** OCP FP8 E5M2 (IEEE-like, with infinities and NaNs), the upper byte of an F16. */
    public static float e5m2ToFloat(byte b) {
        return Float.float16ToFloat((short) ((b & 0xFF) << 8));
    }
}
