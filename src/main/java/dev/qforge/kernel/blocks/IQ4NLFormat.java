package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.putU8;
import static dev.qforge.kernel.blocks.BlockBytes.u8;
import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * IQ4_NL: blocks of 32 weights as indices into the non-linear 16-entry codebook, w = d·VALUES[q]
 * (bytes: d, qs[16], nibbles as in Q4_0). Same size as Q4_0, lower error because the codebook follows
 * the bell shape of weights. Quantized by {@link Iq4NonLinear}, with or without importance (without,
 * the weights are x²; with, importance·sqrt(σ² + x²) with σ² the block's mean square ×2).
 */
public final class IQ4NLFormat extends GgmlBlockFormat implements ScaledLevels {
    private static final int QK = 32;
    private static final ByteVector CODEBOOK = ByteVector.fromArray(BlockDot.B16, Iq4NonLinear.VALUES, 0);

    public IQ4NLFormat() {
        super(GgmlType.IQ4_NL);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int nb = blocks(n);
        byte[] levels = new byte[QK];
        for (int b = 0; b < nb; b++) {
            long o = dstOffset + (long) b * bytesPerBlock();
            float d = Iq4NonLinear.quantize(src, srcOff + b * QK, QK, importance, b * QK, null, levels);
            putF16(dst, o, d);
            for (int j = 0; j < 16; j++) {
                putU8(dst, o + 2 + j, levels[j] | (levels[j + 16] << 4));
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int nb = blocks(n);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * bytesPerBlock();
            float d = f16(src, o);
            int y = dstOff + b * QK;
            for (int j = 0; j < 16; j++) {
                int q = u8(src, o + 2 + j);
                dst[y + j] = d * Iq4NonLinear.VALUES[q & 0x0F];
                dst[y + j + 16] = d * Iq4NonLinear.VALUES[q >>> 4];
            }
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        int nb = blocks(n);
        BlockDot.checkX(x, xOff, n);
        FloatVector total = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = rowOffset + (long) b * bytesPerBlock();
            int xo = xOff + b * QK;
            ByteVector qs = BlockDot.load16(row, o + 2);
            FloatVector acc = BlockDot.fma16(BlockDot.lowNibbles(qs).selectFrom(CODEBOOK), x, xo, FloatVector.zero(F));
            acc = BlockDot.fma16(BlockDot.highNibbles(qs).selectFrom(CODEBOOK), x, xo + 16, acc);
            total = acc.fma(FloatVector.broadcast(F, f16(row, o)), total);
        }
        return Lanes.sum(total);
    }

    @Override
    public LevelGrid levelGrid() {
        return LevelGrids.IQ4_NL;
    }

    private static final Shape SHAPE = new Shape(Iq4NonLinear.VALUES, 0, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int j = 0; j < 16; j++) {
            int q = u8(s, o + 2 + j);
            level[j] = Iq4NonLinear.VALUES[q & 0x0F];
            level[j + 16] = Iq4NonLinear.VALUES[q >>> 4];
        }
        return f16(s, o);
    }
}
