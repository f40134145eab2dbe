package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.blocks.BlockBytes.f16;
import static dev.qforge.kernel.blocks.BlockBytes.putF16;
import static dev.qforge.kernel.blocks.BlockBytes.putU16;
import static dev.qforge.kernel.blocks.BlockBytes.putU8;
import static dev.qforge.kernel.blocks.BlockBytes.u16;
import static dev.qforge.kernel.blocks.BlockBytes.u8;
import static dev.qforge.kernel.blocks.BlockDot.F;

/**
 * IQ4_XS: super-blocks of 256 weights on the IQ4_NL codebook; each 32 weights has a 6-bit scale code
 * ls, w = d·(ls - 32)·VALUES[q] (bytes: d, scales_h (u16: 2 high bits of ls per block), scales_l[4]
 * (low 4 bits, two blocks per byte), qs[128] (16 bytes per block, nibbles as in Q4_0)). 4.25 bits per
 * weight. Quantized by {@link Iq4NonLinear}, with or without importance.
 */
public final class IQ4XSFormat extends GgmlBlockFormat implements ScaledLevels {
    private static final int QK = 256;
    private static final int NB = QK / 32;
    private static final ByteVector CODEBOOK = ByteVector.fromArray(BlockDot.B16, Iq4NonLinear.VALUES, 0);

    public IQ4XSFormat() {
        super(GgmlType.IQ4_XS);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        int nbl = blocks(n);
        byte[] levels = new byte[QK];
        int[] codes = new int[NB];
        for (int ibl = 0; ibl < nbl; ibl++) {
            long o = dstOffset + (long) ibl * bytesPerBlock();
            float d = Iq4NonLinear.quantize(src, srcOff + ibl * QK, QK, importance, ibl * QK, codes, levels);
            putF16(dst, o, d);
            int scalesH = 0;
            for (int ib = 0; ib < NB; ib++) {
                scalesH |= (codes[ib] >>> 4) << (2 * ib);
            }
            putU16(dst, o + 2, scalesH);
            for (int k = 0; k < NB / 2; k++) {
                putU8(dst, o + 4 + k, (codes[2 * k] & 0xF) | ((codes[2 * k + 1] & 0xF) << 4));
            }
            for (int ib = 0; ib < NB; ib++) {
                for (int j = 0; j < 16; j++) {
                    putU8(dst, o + 8 + 16 * ib + j, levels[32 * ib + j] | (levels[32 * ib + 16 + j] << 4));
                }
            }
        }
    }

    static int code(MemorySegment s, long o, int ib) {
        int low = (u8(s, o + 4 + ib / 2) >>> (4 * (ib % 2))) & 0xF;
        int high = (u16(s, o + 2) >>> (2 * ib)) & 3;
        return low | (high << 4);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        int nbl = blocks(n);
        for (int ibl = 0; ibl < nbl; ibl++) {
            long o = srcOffset + (long) ibl * bytesPerBlock();
            float d = f16(src, o);
            for (int ib = 0; ib < NB; ib++) {
                float dl = d * (code(src, o, ib) - 32);
                int y = dstOff + ibl * QK + 32 * ib;
                ByteVector qs = BlockDot.load16(src, o + 8 + 16 * ib);
                BlockDot.scaleInto(BlockDot.lowNibbles(qs).selectFrom(CODEBOOK), dl, dst, y);
                BlockDot.scaleInto(BlockDot.highNibbles(qs).selectFrom(CODEBOOK), dl, dst, y + 16);
            }
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        int nbl = blocks(n);
        BlockDot.checkX(x, xOff, n);
        FloatVector total = FloatVector.zero(F);
        for (int ibl = 0; ibl < nbl; ibl++) {
            long o = rowOffset + (long) ibl * bytesPerBlock();
            float d = f16(row, o);
            for (int ib = 0; ib < NB; ib++) {
                int xo = xOff + ibl * QK + 32 * ib;
                ByteVector qs = BlockDot.load16(row, o + 8 + 16 * ib);
                FloatVector acc = BlockDot.fma16(BlockDot.lowNibbles(qs).selectFrom(CODEBOOK), x, xo, FloatVector.zero(F));
                acc = BlockDot.fma16(BlockDot.highNibbles(qs).selectFrom(CODEBOOK), x, xo + 16, acc);
                total = acc.fma(FloatVector.broadcast(F, d * (code(row, o, ib) - 32)), total);
            }
        }
        return Lanes.sum(total);
    }

    @Override
    public LevelGrid levelGrid() {
        return LevelGrids.IQ4_XS;
    }

    private static final Shape SHAPE = new Shape(Iq4NonLinear.VALUES, 32, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels from the IQ4_NL codebook, factors ls − 32 (6-bit codes), d. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int ib = 0; ib < NB; ib++) {
            factor[ib] = (byte) (code(s, o, ib) - 32);
            for (int j = 0; j < 16; j++) {
                int q = u8(s, o + 8 + 16 * ib + j);
                level[32 * ib + j] = Iq4NonLinear.VALUES[q & 0x0F];
                level[32 * ib + j + 16] = Iq4NonLinear.VALUES[q >>> 4];
            }
        }
        return f16(s, o);
    }
}
