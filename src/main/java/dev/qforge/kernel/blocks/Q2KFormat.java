package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.qforge.kernel.blocks.KVectors.BS;
import static dev.qforge.kernel.blocks.KVectors.FS;
import static dev.qforge.kernel.blocks.KVectors.L;
import static dev.qforge.kernel.blocks.KVectors.LE;

/**
 * llama.cpp's Q2_K: super-blocks of 256 weights in 84 bytes — 16 bytes of 4-bit scale (low nibble)
 * and 4-bit min (high nibble) per sub-block of 16, 64 bytes of 2-bit quants, F16 d, F16 dmin.
 * Weight = d·sc[j]·q − dmin·m[j], q in 0..3. The quants of each half of 128 weights are 32 bytes:
 * weight 128h + 32s + l is bits 2s..2s+1 of byte 32h + l ({@link #packCrumbs}).
 *
 * <p>Quantization is bit-exact with ggml's quantize_q2_K: without importance quantize_row_q2_K_ref
 * (make_qkx2_quants with |x| weights and mean-absolute error, scales and mins linear against the
 * largest), with importance quantize_row_q2_K_impl (make_qkx3_quants weighted by imp·sqrt(σ² + x²),
 * scales and mins by make_qp_quants).
 */
public final class Q2KFormat extends GgmlBlockFormat implements ScaledLevels {
    private static final GgmlType TYPE = GgmlType.Q2_K;
    private static final int QK = 256;
    private static final int SC = 0;
    private static final int QS = 16;
    private static final int D = 80;
    private static final int DMIN = 82;

    public Q2KFormat() {
        super(TYPE);
    }

    /**
     * Packs 256 levels (0..3) as Q2_K and Q3_K store them: for each half h, byte 32h + l holds levels
     * 128h + l, +32, +64, +96 in bit pairs 0, 2, 4, 6.
     */
    static void packCrumbs(byte[] levels, byte[] block, int off) {
        for (int h = 0; h < 2; h++) {
            for (int l = 0; l < 32; l++) {
                int j = 128 * h + l;
                block[off + 32 * h + l] = (byte) (levels[j] | levels[j + 32] << 2 | levels[j + 64] << 4
                        | levels[j + 96] << 6);
            }
        }
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        Search s = new Search();
        for (int b = 0; b < n / QK; b++) {
            int xOff = srcOff + b * QK;
            if (importance == null) {
                s.searchRef(src, xOff);
            } else {
                s.searchWeighted(src, xOff, importance, b * QK);
            }
            s.requantize(src, xOff);
            packCrumbs(s.levels, s.block, QS);
            MemorySegment.copy(s.block, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * s.block.length,
                    s.block.length);
        }
    }

    /** The scratch of one quantize call and the two scale searches of ggml. */
    private static final class Search {
        final byte[] block = new byte[TYPE.bytesPerBlock()];
        final byte[] levels = new byte[QK];
        final byte[] laux = new byte[16];
        final float[] weights = new float[16];
        final float[] scales = new float[16];
        final float[] mins = new float[16];
        final float[] sw = new float[16];
        final byte[] ls = new byte[16];
        final byte[] lm = new byte[16];

        void searchRef(float[] x, int xOff) {
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 16; j++) {
                int o = xOff + 16 * j;
                for (int l = 0; l < 16; l++) {
                    weights[l] = Math.abs(x[o + l]);
                }
                scales[j] = KQuantMath.makeQkx2Quants(16, 3, x, o, weights, 0, levels, 16 * j, mins, j, laux,
                        -0.5f, 0.1f, 15, true);
                if (scales[j] > maxScale) {
                    maxScale = scales[j];
                }
                if (mins[j] > maxMin) {
                    maxMin = mins[j];
                }
            }
            if (maxScale > 0) {
                float iscale = 15f / maxScale;
                for (int j = 0; j < 16; j++) {
                    block[SC + j] = (byte) QuantMath.nearestInt(iscale * scales[j]);
                }
                BlockBytes.putF16(block, D, maxScale / 15f);
            } else {
                for (int j = 0; j < 16; j++) {
                    block[SC + j] = 0;
                }
                BlockBytes.putF16(block, D, 0f);
            }
            if (maxMin > 0) {
                float iscale = 15f / maxMin;
                for (int j = 0; j < 16; j++) {
                    block[SC + j] |= (byte) (QuantMath.nearestInt(iscale * mins[j]) << 4);
                }
                BlockBytes.putF16(block, DMIN, maxMin / 15f);
            } else {
                BlockBytes.putF16(block, DMIN, 0f);
            }
        }

        void searchWeighted(float[] x, int xOff, float[] imp, int impOff) {
            float sumX2 = 0;
            for (int j = 0; j < QK; j++) {
                sumX2 += x[xOff + j] * x[xOff + j];
            }
            float sigma2 = sumX2 / QK; // Q2_K's impl, unlike Q3_K..Q5_K, takes σ² without the factor 2
            for (int j = 0; j < 16; j++) {
                int o = xOff + 16 * j;
                for (int l = 0; l < 16; l++) {
                    weights[l] = imp[impOff + 16 * j + l] * (float) Math.sqrt(sigma2 + x[o + l] * x[o + l]);
                }
                float sumW = 0;
                for (int l = 0; l < 16; l++) {
                    sumW += weights[l];
                }
                sw[j] = sumW;
                scales[j] = QuantMath.makeQkx3Quants(16, 3, x, o, weights, 0, levels, 16 * j, mins, j, laux,
                        -0.9f, 0.05f, 36, false);
            }
            float dm = KQuantMath.makeQpQuants(16, 15, scales, ls, sw);
            float mm = KQuantMath.makeQpQuants(16, 15, mins, lm, sw);
            BlockBytes.putF16(block, D, dm);
            BlockBytes.putF16(block, DMIN, mm);
            for (int j = 0; j < 16; j++) {
                block[SC + j] = (byte) (ls[j] | lm[j] << 4);
            }
        }

        /** Every weight against the stored scales; sub-blocks with scale 0 keep the search's levels. */
        void requantize(float[] x, int xOff) {
            float d = BlockBytes.f16(block, D);
            float dmin = BlockBytes.f16(block, DMIN);
            for (int j = 0; j < 16; j++) {
                int sc = block[SC + j] & 0xFF;
                float dj = d * (sc & 0xF);
                if (dj == 0) {
                    continue;
                }
                float mj = dmin * (sc >> 4);
                for (int ii = 0; ii < 16; ii++) {
                    int l = QuantMath.nearestInt((x[xOff + 16 * j + ii] + mj) / dj);
                    levels[16 * j + ii] = (byte) Math.max(0, Math.min(3, l));
                }
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        byte[] block = new byte[TYPE.bytesPerBlock()];
        for (int b = 0; b < n / QK; b++) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOffset + (long) b * block.length, block, 0, block.length);
            float d = BlockBytes.f16(block, D);
            float dmin = BlockBytes.f16(block, DMIN);
            int y = dstOff + b * QK;
            for (int j = 0; j < 16; j++) {
                int sc = block[SC + j] & 0xFF;
                float dl = d * (sc & 0xF);
                float ml = dmin * (sc >> 4);
                for (int ii = 0; ii < 16; ii++) {
                    int i = 16 * j + ii; // = 128h + 32s + l
                    int q = block[QS + 32 * (i / 128) + i % 32] >> (2 * (i / 32 % 4)) & 3;
                    dst[y + i] = dl * q - ml;
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            sum += blockDot(row, rowOffset + (long) b * TYPE.bytesPerBlock(), x, xOff + b * QK);
        }
        return sum;
    }

    /** One super-block; vectors never cross a call (a non-inlined call would box them). */
    private static float blockDot(MemorySegment row, long off, float[] x, int xo) {
        float d = BlockBytes.f16(row, off + D);
        float dmin = BlockBytes.f16(row, off + DMIN);
        FloatVector acc = FloatVector.zero(FS);
        for (int h = 0; h < 2; h++) {
            for (int l = 0; l < 32; l += L) {
                // bytes 32h + l.. hold weights 128h + 32s + l.. in bit pair s; sub-block (128h + 32s + l) / 16
                ByteVector qb = ByteVector.fromMemorySegment(BS, row, off + QS + 32 * h + l, LE);
                long sc = off + SC + 8 * h + l / 16;
                int xl = xo + 128 * h + l;
                FloatVector q0 = (FloatVector) qb.and((byte) 3).convertShape(VectorOperators.B2F, FS, 0);
                FloatVector q1 = (FloatVector) qb.lanewise(VectorOperators.LSHR, 2).and((byte) 3).convertShape(VectorOperators.B2F, FS, 0);
                FloatVector q2 = (FloatVector) qb.lanewise(VectorOperators.LSHR, 4).and((byte) 3).convertShape(VectorOperators.B2F, FS, 0);
                FloatVector q3 = (FloatVector) qb.lanewise(VectorOperators.LSHR, 6).convertShape(VectorOperators.B2F, FS, 0);
                int s0 = row.get(ValueLayout.JAVA_BYTE, sc) & 0xFF;
                int s1 = row.get(ValueLayout.JAVA_BYTE, sc + 2) & 0xFF;
                int s2 = row.get(ValueLayout.JAVA_BYTE, sc + 4) & 0xFF;
                int s3 = row.get(ValueLayout.JAVA_BYTE, sc + 6) & 0xFF;
                acc = q0.fma(d * (s0 & 0xF), -(dmin * (s0 >> 4))).fma(FloatVector.fromArray(FS, x, xl), acc);
                acc = q1.fma(d * (s1 & 0xF), -(dmin * (s1 >> 4))).fma(FloatVector.fromArray(FS, x, xl + 32), acc);
                acc = q2.fma(d * (s2 & 0xF), -(dmin * (s2 >> 4))).fma(FloatVector.fromArray(FS, x, xl + 64), acc);
                acc = q3.fma(d * (s3 & 0xF), -(dmin * (s3 >> 4))).fma(FloatVector.fromArray(FS, x, xl + 96), acc);
            }
        }
        return Lanes.sum(acc);
    }

    @Override
    public LevelGrid levelGrid() {
        return LevelGrids.Q2_K;
    }

    private static final Shape SHAPE = new Shape(Shape.range(0, 3), 16, QK, true);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels the 2-bit q, factors the low nibbles of the scales, d: as {@link #dequantize}. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        for (int j = 0; j < 16; j++) {
            factor[j] = (byte) (BlockBytes.u8(s, o + SC + j) & 0xF);
        }
        for (int i = 0; i < QK; i++) {
            level[i] = (byte) (BlockBytes.u8(s, o + QS + 32 * (i / 128) + i % 32) >> (2 * (i / 32 % 4)) & 3);
        }
        return BlockBytes.f16(s, o + D);
    }

    /** Offsets the high nibbles of the scales, dmin. */
    @Override
    public float unpackOffsets(MemorySegment s, long o, byte[] offset) {
        for (int j = 0; j < 16; j++) {
            offset[j] = (byte) (BlockBytes.u8(s, o + SC + j) >>> 4);
        }
        return BlockBytes.f16(s, o + DMIN);
    }
}
