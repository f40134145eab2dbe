package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

/**
 * The values a block format can give each weight once its block's scales are fixed: weight i of a row may
 * take {@code scale[i] · codebook()[k] + offset[i]} for a level k in [0, codebook().length). This is what
 * error-feedback quantizers (GPTQ) need from a format: the format chooses a block's scales from the weights
 * as they stand when the quantizer reaches the block ({@link BlockFormat#quantize}, with importance), then
 * the quantizer rounds each weight in turn onto that block's grid, feeding the error forward, and finally
 * writes the chosen levels back with the scales unchanged. The result is ordinary blocks of the format.
 */
public interface LevelGrid {
    /** The level values before scaling: 0..2^b−1 for the affine formats, shifted for symmetric ones, a table for IQ4. */
    float[] codebook();

    /** Whether codebook() is 0, 1, 2, … shifted by a constant (so rounding is a division, not a search). */
    boolean uniform();

    /**
     * The grid of each of the n weights of the row at {@code rowOffset} (whole blocks), from its scales:
     * weight i may be {@code scale[i]·codebook[k] + offset[i]}.
     */
    void grid(MemorySegment row, long rowOffset, int n, float[] scale, float[] offset);

    /** Writes level {@code levels[levelsOff + i]} for each of the row's n weights, leaving the scales as they are. */
    void setLevels(MemorySegment row, long rowOffset, int n, int[] levels, int levelsOff);

    /** The level whose grid value is nearest to w. */
    default int nearest(float w, float scale, float offset) {
        float[] cb = codebook();
        if (uniform()) {
            if (scale == 0) {
                return nearestSearch(cb, w, scale, offset);
            }
            float k = (w - offset) / scale - cb[0];
            int level = Math.round(k);
            return Math.max(0, Math.min(cb.length - 1, level));
        }
        return nearestSearch(cb, w, scale, offset);
    }

    private static int nearestSearch(float[] cb, float w, float scale, float offset) {
        int best = 0;
        float bestErr = Float.POSITIVE_INFINITY;
        for (int k = 0; k < cb.length; k++) {
            float e = Math.abs(scale * cb[k] + offset - w);
            if (e < bestErr) {
                bestErr = e;
                best = k;
            }
        }
        return best;
    }
}
