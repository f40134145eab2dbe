package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

import static dev.qforge.kernel.blocks.KVectors.BS;
import static dev.qforge.kernel.blocks.KVectors.FS;
import static dev.qforge.kernel.blocks.KVectors.L;
import static dev.qforge.kernel.blocks.KVectors.LE;

/**
 * llama.cpp's Q3_K: super-blocks of 256 weights in 110 bytes — 32 bytes hmask (the third bit of each
 * quant), 64 bytes qs (low 2 bits, {@link Q2KFormat#packCrumbs} layout), 12 bytes of sixteen 6-bit
 * signed scales, F16 d. Weight = d·(sc[j] − 32)·(q − 4), q in 0..7, sub-blocks of 16. Weight i has its
 * high bit in bit i/32 of hmask[i % 32]. Scale k keeps its low 4 bits in a nibble of byte k % 8 (low
 * for k < 8) and its top 2 bits in bits 2·(k/4) of byte 8 + k % 4.
 *
 * <p>Quantization is bit-exact with ggml's quantize_q3_K: without importance quantize_row_q3_K_ref
 * (make_q3_quants per sub-block, scales linear against the largest), with importance
 * quantize_row_q3_K_impl (make_qx_quants weighted by imp·sqrt(σ² + x²), scales quantized by
 * make_qx_quants weighted by the sub-block weight sums).
 */
public final class Q3KFormat extends GgmlBlockFormat implements ScaledLevels {
    private static final GgmlType TYPE = GgmlType.Q3_K;
    private static final int QK = 256;
    private static final int HM = 0;
    private static final int QS = 32;
    private static final int SC = 96;
    private static final int D = 108;

    public Q3KFormat() {
        super(TYPE);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        byte[] block = new byte[TYPE.bytesPerBlock()];
        byte[] levels = new byte[QK];
        float[] scales = new float[16];
        for (int b = 0; b < n / QK; b++) {
            Arrays.fill(block, (byte) 0);
            int xOff = srcOff + b * QK;
            if (importance == null) {
                searchRef(src, xOff, block, levels, scales);
            } else {
                searchWeighted(src, xOff, importance, b * QK, block, levels, scales);
            }
            requantize(src, xOff, block, levels);
            for (int j = 0; j < QK; j++) {
                if (levels[j] > 3) {
                    block[HM + j % 32] |= (byte) (1 << (j / 32));
                    levels[j] -= 4;
                }
            }
            Q2KFormat.packCrumbs(levels, block, QS);
            MemorySegment.copy(block, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * block.length, block.length);
        }
    }

    private static void searchRef(float[] x, int xOff, byte[] block, byte[] levels, float[] scales) {
        float maxScale = 0;
        float amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = KQuantMath.makeQ3Quants(16, 4, x, xOff + 16 * j, levels, 16 * j, true);
            float a = Math.abs(scales[j]);
            if (a > amax) {
                amax = a;
                maxScale = scales[j];
            }
        }
        if (maxScale != 0) {
            float iscale = -32f / maxScale;
            for (int j = 0; j < 16; j++) {
                int l = (byte) QuantMath.nearestInt(iscale * scales[j]); // C keeps it in an int8_t
                putScale(block, j, Math.max(-32, Math.min(31, l)) + 32);
            }
            BlockBytes.putF16(block, D, 1 / iscale);
        } else {
            BlockBytes.putF16(block, D, 0f);
        }
    }

    private static void searchWeighted(float[] x, int xOff, float[] imp, int impOff, byte[] block, byte[] levels,
                                       float[] scales) {
        float sumX2 = 0;
        for (int j = 0; j < QK; j++) {
            sumX2 += x[xOff + j] * x[xOff + j];
        }
        float sigma2 = 2 * sumX2 / QK;
        float[] weight = new float[16];
        float[] sw = new float[16];
        for (int j = 0; j < 16; j++) {
            int o = xOff + 16 * j;
            for (int l = 0; l < 16; l++) {
                weight[l] = imp[impOff + 16 * j + l] * (float) Math.sqrt(sigma2 + x[o + l] * x[o + l]);
            }
            float sumW = 0;
            for (int l = 0; l < 16; l++) {
                sumW += weight[l];
            }
            sw[j] = sumW;
            scales[j] = QuantMath.makeQxQuants(16, 4, x, o, levels, 16 * j, 1, weight, 0);
        }
        byte[] ls = new byte[16];
        float dBlock = QuantMath.makeQxQuants(16, 32, scales, 0, ls, 0, 1, sw, 0);
        for (int j = 0; j < 16; j++) {
            putScale(block, j, ls[j]);
        }
        BlockBytes.putF16(block, D, dBlock);
    }

    /** Every weight against its stored scale; a sub-block whose scale is 0 keeps the search's levels. */
    private static void requantize(float[] x, int xOff, byte[] block, byte[] levels) {
        float d = BlockBytes.f16(block, D);
        for (int j = 0; j < 16; j++) {
            float dj = d * (scale(block, SC, j) - 32);
            if (dj == 0) {
                continue;
            }
            for (int ii = 0; ii < 16; ii++) {
                int l = QuantMath.nearestInt(x[xOff + 16 * j + ii] / dj);
                levels[16 * j + ii] = (byte) (Math.max(-4, Math.min(3, l)) + 4);
            }
        }
    }

    /** ORs the 6-bit scale l (0..63, the stored scale + 32) of sub-block j into zeroed scale bytes. */
    private static void putScale(byte[] block, int j, int l) {
        if (j < 8) {
            block[SC + j] = (byte) (l & 0xF);
        } else {
            block[SC + j - 8] |= (byte) ((l & 0xF) << 4);
        }
        block[SC + 8 + j % 4] |= (byte) ((l >> 4) << (2 * (j / 4)));
    }

    /** The 6-bit scale (0..63, 32 meaning zero) of sub-block k from the 12 scale bytes at off. */
    static int scale(byte[] b, int off, int k) {
        int low = k < 8 ? b[off + k] & 0xF : (b[off + k - 8] & 0xFF) >> 4;
        return low | ((b[off + 8 + k % 4] & 0xFF) >> (2 * (k / 4)) & 3) << 4;
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        byte[] block = new byte[TYPE.bytesPerBlock()];
        byte[] level = new byte[QK];
        byte[] factor = new byte[QK / 16];
        for (int b = 0; b < n / QK; b++) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOffset + (long) b * block.length, block, 0, block.length);
            float d = unpack(block, level, factor);
            int y = dstOff + b * QK;
            for (int i = 0; i < QK; i++) {
                // ggml's order: dl = d·(scale − 32), then dl·q
                dst[y + i] = d * factor[i / 16] * level[i];
            }
        }
    }



    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        byte[] sc = new byte[12];
        float[] dl = new float[16];
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            sum += blockDot(row, rowOffset + (long) b * TYPE.bytesPerBlock(), x, xOff + b * QK, sc, dl);
        }
        return sum;
    }

    /** One super-block; vectors never cross a call (a non-inlined call would box them). */
    private static float blockDot(MemorySegment row, long off, float[] x, int xo, byte[] sc, float[] dl) {
        float d = BlockBytes.f16(row, off + D);
        MemorySegment.copy(row, ValueLayout.JAVA_BYTE, off + SC, sc, 0, 12);
        for (int k = 0; k < 16; k++) {
            dl[k] = d * (scale(sc, 0, k) - 32); // the 16 sub-block scales, decoded once
        }
        FloatVector acc = FloatVector.zero(FS);
        for (int h = 0; h < 2; h++) {
            for (int l = 0; l < 32; l += L) {
                // qs bytes 32h + l.. hold weights 128h + 32s + l.. in bit pair s, their high bits are bit
                // 4h + s of hmask[l..]; value q − 4·(1 − hbit) = q + 4·hbit − 4
                ByteVector qb = ByteVector.fromMemorySegment(BS, row, off + QS + 32 * h + l, LE);
                ByteVector hb = ByteVector.fromMemorySegment(BS, row, off + HM + l, LE).lanewise(VectorOperators.LSHR, 4 * h);
                ByteVector v0 = qb.and((byte) 3).add(hb.and((byte) 1).lanewise(VectorOperators.LSHL, 2));
                ByteVector v1 = qb.lanewise(VectorOperators.LSHR, 2).and((byte) 3).add(hb.and((byte) 2).lanewise(VectorOperators.LSHL, 1));
                ByteVector v2 = qb.lanewise(VectorOperators.LSHR, 4).and((byte) 3).add(hb.and((byte) 4));
                ByteVector v3 = qb.lanewise(VectorOperators.LSHR, 6).add(hb.and((byte) 8).lanewise(VectorOperators.LSHR, 1));
                int k = 8 * h + l / 16; // scale of weights 128h + l..; +2 per bit pair
                int xl = xo + 128 * h + l;
                acc = ((FloatVector) v0.sub((byte) 4).convertShape(VectorOperators.B2F, FS, 0)).mul(dl[k])
                        .fma(FloatVector.fromArray(FS, x, xl), acc);
                acc = ((FloatVector) v1.sub((byte) 4).convertShape(VectorOperators.B2F, FS, 0)).mul(dl[k + 2])
                        .fma(FloatVector.fromArray(FS, x, xl + 32), acc);
                acc = ((FloatVector) v2.sub((byte) 4).convertShape(VectorOperators.B2F, FS, 0)).mul(dl[k + 4])
                        .fma(FloatVector.fromArray(FS, x, xl + 64), acc);
                acc = ((FloatVector) v3.sub((byte) 4).convertShape(VectorOperators.B2F, FS, 0)).mul(dl[k + 6])
                        .fma(FloatVector.fromArray(FS, x, xl + 96), acc);
            }
        }
        return Lanes.sum(acc);
    }

    @Override
    public LevelGrid levelGrid() {
        return LevelGrids.Q3_K;
    }

    private static final Shape SHAPE = new Shape(Shape.range(-4, 3), 16, QK, false);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels q − 4 (high bit clear) or q, factors the 6-bit scales − 32, d. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        byte[] block = new byte[TYPE.bytesPerBlock()];
        MemorySegment.copy(s, ValueLayout.JAVA_BYTE, o, block, 0, block.length);
        return unpack(block, level, factor);
    }

    private static float unpack(byte[] block, byte[] level, byte[] factor) {
        for (int k = 0; k < QK / 16; k++) {
            factor[k] = (byte) (scale(block, SC, k) - 32);
        }
        for (int i = 0; i < QK; i++) {
            // weight i = 128h + 32s + l: 2-bit field s of qs[32h + l], high bit i/32 of hmask[l]
            level[i] = (byte) ((block[QS + 32 * (i / 128) + i % 32] >> (2 * (i / 32 % 4)) & 3)
                    - ((block[HM + i % 32] >> (i / 32) & 1) != 0 ? 0 : 4));
        }
        return BlockBytes.f16(block, D);
    }

}
