package dev.qforge.kernel.blocks;

import dev.qforge.QforgeException;

import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The plain integer formats of GPU checkpoints (GPTQ, AWQ, compressed-tensors' pack-quantized): groups of g
 * consecutive weights of a row as b-bit levels q with one scale and one integer zero point per group,
 * w = scale · (q − zero). Asymmetric groups choose the zero point; symmetric ones fix it at 2^(b−1), as the
 * GPTQ reference code does. Names: {@code INT4_G128}, {@code INT3_G64_SYM}, {@code INT8_CH} (per output channel:
 * one group per row, so the format is made for a row width).
 *
 * <p>Block bytes (qforge's own layout, which the GPU-format writers repack): f16 scale, u8 zero, then the g
 * levels as a little-endian bit stream of b bits each.
 *
 * <p>Quantizing chooses each group's range by search (the reference code's {@code mse} option): the range
 * [min, max] (widened to include 0) is shrunk by p = 1, 0.99, …, 0.2, and the p whose rounding gives the least
 * squared error, weighted by the importance (the Hessian diagonal), wins. Clipping a few outliers buys a
 * finer grid for the rest; with importance the trade is judged on the output, not on the weights.
 *
 * <p>No GGUF file can hold these formats: {@link #ggmlType()} is −1, and {@link BlockFormats#byName} does not
 * return them, so a GGUF path can never be handed one.
 */
public final class IntGroupFormat implements BlockFormat, LevelGrid {
    private static final Pattern NAME = Pattern.compile("INT([2348])_(G(\\d+)|CH)(_SYM)?");
    /** Shrink steps of the clipping search: p = 1 − i/100 for i < 80, as the reference's grid and maxshrink. */
    private static final int SHRINK_STEPS = 80;

    private final int bits;
    private final int group;
    private final boolean symmetric;
    private final boolean perChannel;
    private final int maxLevel;
    private final float[] codebook;

    private IntGroupFormat(int bits, int group, boolean symmetric, boolean perChannel) {
        if (group <= 0 || group % 8 != 0) {
            throw new QforgeException("integer groups hold a positive multiple of 8 weights, not " + group);
        }
        this.bits = bits;
        this.group = group;
        this.symmetric = symmetric;
        this.perChannel = perChannel;
        this.maxLevel = (1 << bits) - 1;
        this.codebook = new float[maxLevel + 1];
        for (int k = 0; k <= maxLevel; k++) {
            codebook[k] = k;
        }
    }

    /** b bits (2, 3, 4 or 8) in groups of g weights. */
    public static IntGroupFormat of(int bits, int group, boolean symmetric) {
        if (bits != 2 && bits != 3 && bits != 4 && bits != 8) {
            throw new QforgeException("integer formats have 2, 3, 4 or 8 bits, not " + bits);
        }
        return new IntGroupFormat(bits, group, symmetric, false);
    }

    /**
     * The format a name gives, for rows of {@code rowWidth} weights (what per-channel groups span), or null
     * when the name is not of this family.
     */
    public static IntGroupFormat parse(String name, int rowWidth) {
        Matcher m = NAME.matcher(name.toUpperCase(Locale.ROOT));
        if (!m.matches()) {
            return null;
        }
        int bits = Integer.parseInt(m.group(1));
        boolean sym = m.group(4) != null;
        if (m.group(3) == null) {
            return new IntGroupFormat(bits, rowWidth, sym, true);
        }
        try {
            return of(bits, Integer.parseInt(m.group(3)), sym);
        } catch (NumberFormatException e) {
            throw new QforgeException(name + ": a group of " + m.group(3) + " weights is too large");
        }
    }

    public int bits() {
        return bits;
    }

    public boolean symmetric() {
        return symmetric;
    }

    @Override
    public String name() {
        return "INT" + bits + "_" + (perChannel ? "CH" : "G" + group) + (symmetric ? "_SYM" : "");
    }

    /** Not a ggml type. */
    @Override
    public int ggmlType() {
        return -1;
    }

    @Override
    public int blockSize() {
        return group;
    }

    @Override
    public int bytesPerBlock() {
        return 3 + group * bits / 8;
    }

    @Override
    public LevelGrid levelGrid() {
        return this;
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int blocks = blocks(n);
        for (int b = 0; b < blocks; b++) {
            quantizeGroup(src, srcOff + b * group, importance, b * group, dst, dstOffset + (long) b * bytesPerBlock());
        }
    }

    private void quantizeGroup(float[] x, int off, float[] importance, int impOff, MemorySegment dst, long o) {
        float lo = 0;
        float hi = 0;
        for (int i = 0; i < group; i++) {
            lo = Math.min(lo, x[off + i]);
            hi = Math.max(hi, x[off + i]);
        }
        if (symmetric) {
            hi = Math.max(-lo, hi);
            lo = -hi;
        }
        float bestScale = 0;
        int bestZero = symmetric ? (maxLevel + 1) / 2 : 0;
        if (hi > lo) {
            double bestErr = Double.POSITIVE_INFINITY;
            for (int step = 0; step < SHRINK_STEPS; step++) {
                float p = 1 - step / 100f;
                float scale = Float.float16ToFloat(Float.floatToFloat16((p * hi - p * lo) / maxLevel));
                if (scale == 0) {
                    break;
                }
                int zero = symmetric ? (maxLevel + 1) / 2 : Math.clamp(Math.round(-p * lo / scale), 0, maxLevel);
                double err = 0;
                for (int i = 0; i < group && err < bestErr; i++) {
                    float v = x[off + i];
                    float d = scale * (level(v, scale, zero) - zero) - v;
                    err += (importance == null ? 1f : importance[impOff + i]) * (double) d * d;
                }
                if (err < bestErr) {
                    bestErr = err;
                    bestScale = scale;
                    bestZero = zero;
                }
            }
        }
        BlockBytes.putF16(dst, o, bestScale);
        BlockBytes.putU8(dst, o + 2, bestZero);
        int[] levels = new int[group];
        for (int i = 0; i < group; i++) {
            levels[i] = bestScale == 0 ? bestZero : level(x[off + i], bestScale, bestZero);
        }
        writeLevels(dst, o, levels, 0);
    }

    private int level(float v, float scale, int zero) {
        return Math.clamp(Math.round(v / scale) + zero, 0, maxLevel);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int blocks = blocks(n);
        for (int b = 0; b < blocks; b++) {
            long o = srcOffset + (long) b * bytesPerBlock();
            float scale = BlockBytes.f16(src, o);
            int zero = BlockBytes.u8(src, o + 2);
            for (int i = 0; i < group; i++) {
                dst[dstOff + b * group + i] = scale * (readLevel(src, o, i) - zero);
            }
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        float[] w = new float[group];
        float sum = 0;
        for (int b = 0; b < blocks(n); b++) {
            dequantize(row, rowOffset + (long) b * bytesPerBlock(), group, w, 0);
            for (int i = 0; i < group; i++) {
                sum += w[i] * x[xOff + b * group + i];
            }
        }
        return sum;
    }

    @Override
    public float[] codebook() {
        return codebook;
    }

    @Override
    public boolean uniform() {
        return true;
    }

    @Override
    public void grid(MemorySegment row, long rowOffset, int n, float[] scale, float[] offset) {
        for (int b = 0; b < blocks(n); b++) {
            long o = rowOffset + (long) b * bytesPerBlock();
            float s = BlockBytes.f16(row, o);
            LevelGrids.fill(scale, offset, b * group, group, s, -s * BlockBytes.u8(row, o + 2));
        }
    }

    @Override
    public void setLevels(MemorySegment row, long rowOffset, int n, int[] levels, int levelsOff) {
        for (int b = 0; b < blocks(n); b++) {
            writeLevels(row, rowOffset + (long) b * bytesPerBlock(), levels, levelsOff + b * group);
        }
    }

    private void writeLevels(MemorySegment dst, long o, int[] levels, int off) {
        long bitsAt = (o + 3) * 8;
        for (int byteIndex = 0; byteIndex < group * bits / 8; byteIndex++) {
            BlockBytes.putU8(dst, o + 3 + byteIndex, 0);
        }
        for (int i = 0; i < group; i++) {
            int q = levels[off + i];
            for (int bit = 0; bit < bits; bit++) {
                if ((q >> bit & 1) != 0) {
                    long at = bitsAt + (long) i * bits + bit;
                    long byteAt = at >>> 3;
                    BlockBytes.putU8(dst, byteAt, BlockBytes.u8(dst, byteAt) | 1 << (at & 7));
                }
            }
        }
    }

    private int readLevel(MemorySegment src, long o, int i) {
        long at = (o + 3) * 8 + (long) i * bits;
        int q = 0;
        for (int bit = 0; bit < bits; bit++) {
            long a = at + bit;
            q |= (BlockBytes.u8(src, a >>> 3) >> (a & 7) & 1) << bit;
        }
        return q;
    }

    private int blocks(int n) {
        if (n < 0 || n % group != 0) {
            throw new IllegalArgumentException(name() + " rows hold a multiple of " + group + " weights, not " + n);
        }
        return n / group;
    }

    @Override
    public String toString() {
        return name();
    }
}
