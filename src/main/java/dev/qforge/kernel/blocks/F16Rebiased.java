package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

/**
 * F16 values re-encoded for the decode kernels that read them as float bits (the F16 weights' decode copies, {@code
 * MatMul.f16Dot1}, and the f16 scales of the Q8_0, Q4_0 and Q4_K decode layouts, {@link InterleavedLanes#f16sInto}):
 * each nonzero value's exponent raised by {@link #REBIAS}, subnormals normalized on the way, zeros as they are. Still
 * 16 bits a value, and exact: a subnormal has at most 10 significant bits, which a normal value's implicit one and
 * 10-bit mantissa hold.
 *
 * <p>Why: those kernels move a value's exponent and mantissa bits to where a float has them, so the float reads the
 * value times 2^-112 and F16 subnormals become float subnormals. On an Intel Xeon (family 6 model 167) an FMA with a
 * subnormal input takes a microcode assist: with the ~0.3 % of subnormal weights of a Gaussian F16 matrix (σ = 0.02)
 * one thread ran the kernel at 7.9 G weights/s in cache, without them at 25.6. Raised by 10, the smallest
 * subnormal (2^-24) reads as 2^-126, the least normal float, and every value reads as itself times 2^-102; the
 * kernels multiply by {@link #X_SCALE} to match (the F16 weights' kernel multiplies x, which keeps each FMA's product
 * exactly the converted weight's; the scales' kernel multiplies the scales). A value needs an exponent field of at most {@link #MAX_EXPONENT} (magnitude below 128) to
 * be raised; matrices with larger values, infinities or NaNs keep their bytes and take other paths.
 */
public final class F16Rebiased {
    /** How far exponents are raised. */
    public static final int REBIAS = 10;
    /** The largest F16 exponent field a value may have: 21 + 10 fills the 5 bits. */
    public static final int MAX_EXPONENT = 31 - REBIAS;
    /** What x is multiplied by: the float bits read a re-encoded value as itself times 2^-(112 - REBIAS). */
    public static final float X_SCALE = 0x1p102f;
    /** Elements of x at or above this (in magnitude) would overflow times {@link #X_SCALE}. */
    public static final float X_LIMIT = 0x1p25f;

    private F16Rebiased() {
    }

    /**
     * The re-encoded bits of the F16 value f (its low 16 bits), or −1 where its exponent field exceeds {@link
     * #MAX_EXPONENT}.
     */
    public static int of(int f) {
        int sign = f & 0x8000;
        int exponent = (f >>> 10) & 0x1F;
        int mantissa = f & 0x3FF;
        if (exponent > MAX_EXPONENT) {
            return -1;
        }
        if (exponent > 0) {
            return (f & 0xFFFF) + (REBIAS << 10);
        }
        if (mantissa == 0) {
            return f & 0xFFFF;
        }
        // mantissa·2^-24 = 2^(p-24)·(1 + f/2^p) for p its leading bit: exponent field p - 24 + 15, raised by REBIAS
        int p = 31 - Integer.numberOfLeadingZeros(mantissa);
        return sign | (p - 9 + REBIAS) << 10 | (mantissa << (10 - p)) & 0x3FF;
    }

    /**
     * Moves an F16 value from the top half of an int lane, shifted right by 3 as a signed int, to where a float has
     * its sign, exponent and mantissa: keeps the sign (bit 31) and bits 13-27, clears the sign's copies in 28-30.
     */
    public static final int FLOAT_BITS = 0x8FFFE000;

    /** The value of re-encoded bits r (low 16 bits), as the kernels read it, scaled back: for tails and fallbacks. */
    public static float toFloat(int r) {
        return Float.intBitsToFloat(((r << 16) >> 3) & FLOAT_BITS) * X_SCALE;
    }

    /**
     * Whether every block's f16 scales can be re-encoded, for rows of blocks that start with them (Q8_0 and Q4_0: d;
     * Q4_K: d, dmin): row j at srcOffset + j·rowBytes, j below rows, blocks of blockBytes, each with its first scales
     * f16 values.
     */
    static boolean blockScalesFit(MemorySegment src, long srcOffset, long rowBytes, int rows, int blocks,
                                  int blockBytes, int scales) {
        for (int j = 0; j < rows; j++) {
            for (int b = 0; b < blocks; b++) {
                for (int k = 0; k < scales; k++) {
                    long at = srcOffset + j * rowBytes + (long) b * blockBytes + 2L * k;
                    if (((BlockBytes.u16(src, at) >>> 10) & 0x1F) > MAX_EXPONENT) {
                        return false;
                    }
                }
            }
        }
        return true;
    }
}
