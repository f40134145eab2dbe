package dev.qforge.kernel.blocks;

/**
 * The 12 bytes in which Q4_K and Q5_K keep eight 6-bit sub-block scales and eight 6-bit mins
 * (ggml's get_scale_min_k4 layout). Sub-blocks 0–3 keep scale and min whole in the low 6 bits of bytes
 * j and j+4; sub-blocks 4–7 keep their low 4 bits as the nibbles of byte j+4 and their top 2 bits in
 * the spare top bits of bytes j−4 (scale) and j (min).
 */
final class PackedScales6 {
    static final int BYTES = 12;

    private PackedScales6() {
    }

    /** Packs ls[j], lm[j] (each 0..63) into b[off .. off+12). */
    static void pack(int[] ls, int[] lm, byte[] b, int off) {
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                b[off + j] = (byte) ls[j];
                b[off + j + 4] = (byte) lm[j];
            } else {
                // relies on j < 4 having filled bytes 0..7 first
                b[off + j + 4] = (byte) ((ls[j] & 0xF) | (lm[j] & 0xF) << 4);
                b[off + j - 4] |= (byte) ((ls[j] >> 4) << 6);
                b[off + j] |= (byte) ((lm[j] >> 4) << 6);
            }
        }
    }

    /** The 6-bit scale of sub-block j, from the 12 bytes read as lo (bytes 0–7) and hi (bytes 8–11). */
    static int scale(long lo, int hi, int j) {
        if (j < 4) {
            return byteAt(lo, hi, j) & 63;
        }
        return (byteAt(lo, hi, j + 4) & 0xF) | (byteAt(lo, hi, j - 4) >> 6) << 4;
    }

    /** The 6-bit min of sub-block j, from the 12 bytes read as lo and hi. */
    static int min(long lo, int hi, int j) {
        if (j < 4) {
            return byteAt(lo, hi, j + 4) & 63;
        }
        return byteAt(lo, hi, j + 4) >> 4 | (byteAt(lo, hi, j) >> 6) << 4;
    }

    /**
     * All eight 6-bit scales at once, byte j of the result = {@link #scale}(lo, hi, j): ggml's utmp
     * shuffle, a few shifts and masks instead of eight extractions (the K-quant dots decode these per
     * 256 weights, and the extractions cost as much as the vector work).
     */
    static long scales(long lo, int hi) {
        long low = lo & 0x3F3F3F3FL;
        long high = (hi & 0x0F0F0F0FL) | ((lo >>> 6) & 0x03030303L) << 4;
        return low | high << 32;
    }

    /** All eight 6-bit mins at once, byte j of the result = {@link #min}(lo, hi, j). */
    static long mins(long lo, int hi) {
        long low = (lo >>> 32) & 0x3F3F3F3FL;
        long high = ((hi >>> 4) & 0x0F0F0F0FL) | ((lo >>> 38) & 0x03030303L) << 4;
        return low | high << 32;
    }

    /** Byte k (0..11) of the packed scales, unsigned. */
    private static int byteAt(long lo, int hi, int k) {
        return k < 8 ? (int) (lo >>> (8 * k)) & 0xFF : hi >>> (8 * (k - 8)) & 0xFF;
    }
}
