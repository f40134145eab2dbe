package dev.qforge.kernel.blocks;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The lattice grids of llama.cpp's IQ formats (ggml's tables, MIT licence, written to the resource
 * {@code iq-grids.bin} by {@code scripts/ggml-iq-grids.py}): each entry is 8 (or, for the IQ3 grids, 4) small
 * values that a block names by index. Held expanded to one byte per value, so entry i of a grid of width w starts
 * at byte i·w.
 */
final class IqGrids {
    /** IQ2_XXS: 256 entries of 8 unsigned magnitudes (the others alike, with 512, 1024, 256 and 512 entries). */
    static final byte[] IQ2XXS;
    static final byte[] IQ2XS;
    static final byte[] IQ2S;
    static final byte[] IQ3XXS;
    static final byte[] IQ3S;
    /** IQ1_S/IQ1_M: 2048 entries of 8 values from {−1, 0, 1}. */
    static final byte[] IQ1S;

    static {
        byte[] all;
        try (InputStream in = IqGrids.class.getResourceAsStream("iq-grids.bin")) {
            if (in == null) {
                throw new IllegalStateException("resource iq-grids.bin is missing from the build");
            }
            all = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int[] sizes = {256 * 8, 512 * 8, 1024 * 8, 256 * 4, 512 * 4, 2048 * 8};
        byte[][] parts = new byte[sizes.length][];
        int at = 0;
        for (int i = 0; i < sizes.length; i++) {
            parts[i] = java.util.Arrays.copyOfRange(all, at, at + sizes[i]);
            at += sizes[i];
        }
        if (at != all.length) {
            throw new IllegalStateException("iq-grids.bin holds " + all.length + " bytes, not " + at);
        }
        IQ2XXS = parts[0];
        IQ2XS = parts[1];
        IQ2S = parts[2];
        IQ3XXS = parts[3];
        IQ3S = parts[4];
        IQ1S = parts[5];
    }

    private IqGrids() {
    }

    /** The IQ1 grid with each value v in {−1, 0, 1} as the level v + 1 (what the lattice search indexes by). */
    static byte[] iq1Levels() {
        byte[] out = new byte[IQ1S.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) (IQ1S[i] + 1);
        }
        return out;
    }

    /**
     * The 8 sign bits that a 7-bit index stands for: the index's bits, and an eighth that makes their count even
     * (ggml's ksigns_iq2xs), so 7 bits carry the signs of 8 weights.
     */
    static int signs(int index7) {
        return index7 | (Integer.bitCount(index7) & 1) << 7;
    }
}
