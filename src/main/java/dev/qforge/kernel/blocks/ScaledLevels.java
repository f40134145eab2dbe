package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

/**
 * What a format's blocks are once their bit packing is undone, for the formats where that is three small
 * things: every weight is {@code d · factor · level}, with one float d per block, one small integer factor per
 * span of 16 or 32 weights (a sub-block scale), and per weight one of at most 16 small integer levels — a
 * lattice entry's value with its sign, a codebook value, a centred K-quant level. llama.cpp's IQ formats,
 * IQ4_NL/IQ4_XS, MXFP4, TQ1_0/TQ2_0, Q3_K and Q5_0 are all of this shape, however differently they pack it;
 * Q2_K, Q5_K, Q4_1 and Q5_1 are too, with an offset per span subtracted: {@code d · factor · level − dmin · offset}.
 *
 * <p>The shape is what {@link ScaledLevelsInterleaved} needs to decode any of them with one kernel: levels become
 * 4-bit codes into the format's table, looked up in vector registers, and the integer sums meet the factors and
 * d once per span. The lattice formats also dequantize through it (the products are exact, so the floats are
 * those of ggml's own order of operations).
 */
interface ScaledLevels {
    /**
     * The format's shape: the levels a weight can take (at most 16 for 4-bit codes, or up to 32 within ±32 held as
     * bytes; a level's index is its code), weights per factor (16 or 32; 0 where every weight is d · level), weights
     * per block (one d each), and whether each span also has an offset ({@link #unpackOffsets}).
     */
    record Shape(byte[] levels, int factorSpan, int blockWeights, boolean offsets) {
        /** The consecutive levels from .. to. */
        static byte[] range(int from, int to) {
            byte[] levels = new byte[to - from + 1];
            for (int i = 0; i < levels.length; i++) {
                levels[i] = (byte) (from + i);
            }
            return levels;
        }
    }

    Shape shape();

    /**
     * Unpacks the block at o: each weight's level into level[0 .. blockWeights), each span's factor into factor
     * (nothing where factorSpan is 0); returns d.
     */
    float unpack(MemorySegment s, long o, byte[] level, byte[] factor);

    /** Each span's offset of the block at o into offset; returns dmin. Only where the shape has offsets. */
    default float unpackOffsets(MemorySegment s, long o, byte[] offset) {
        throw new UnsupportedOperationException("no offsets");
    }
}
