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
 * llama.cpp's Q6_K: super-blocks of 256 weights in 210 bytes — 128 bytes ql (low 4 bits), 64 bytes qh
 * (high 2 bits), 16 int8 sub-block scales, F16 d. Weight = d·sc[j]·(q − 32), q in 0..63, 16 sub-blocks
 * of 16. Each half of 128 weights uses 64 ql and 32 qh bytes: for l in 0..31, ql[l] holds weights l
 * (low nibble) and l+64 (high), ql[l+32] holds l+32 and l+96, and qh[l] their top bits in bit pairs
 * 0, 2, 4, 6 for l, l+32, l+64, l+96.
 *
 * <p>Quantization is bit-exact with ggml's quantize_q6_K: the same search (make_qx_quants with nmax 32
 * per sub-block, then scales to int8 against the largest) with weights x² (quantize_row_q6_K_ref) or,
 * with importance, the importance itself (quantize_row_q6_K_impl, which ignores σ²).
 */
public final class Q6KFormat extends GgmlBlockFormat {
    private static final GgmlType TYPE = GgmlType.Q6_K;
    private static final int QK = 256;
    private static final int QL = 0;
    private static final int QH = 128;
    private static final int SC = 192;
    private static final int D = 208;

    public Q6KFormat() {
        super(TYPE, new Q6KInterleaved());
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        byte[] block = new byte[TYPE.bytesPerBlock()];
        byte[] levels = new byte[QK];
        float[] scales = new float[16];
        for (int b = 0; b < n / QK; b++) {
            quantizeBlock(src, srcOff + b * QK, importance, b * QK, block, levels, scales);
            MemorySegment.copy(block, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * block.length, block.length);
        }
    }

    private static void quantizeBlock(float[] x, int xOff, float[] imp, int impOff, byte[] block, byte[] levels,
                                      float[] scales) {
        float maxScale = 0;
        float maxAbsScale = 0;
        for (int ib = 0; ib < 16; ib++) {
            float scale = QuantMath.makeQxQuants(16, 32, x, xOff + 16 * ib, levels, 16 * ib, 1, imp, impOff + 16 * ib);
            scales[ib] = scale;
            if (Math.abs(scale) > maxAbsScale) {
                maxAbsScale = Math.abs(scale);
                maxScale = scale;
            }
        }
        java.util.Arrays.fill(block, (byte) 0);
        if (maxAbsScale < QuantMath.GROUP_MAX_EPS) {
            return; // an all-zero block: d = 0 and zero bytes everywhere, as ggml writes it
        }
        // the signed largest scale maps to −128, so every scale fits int8 after MIN(127, ·)
        float iscale = -128f / maxScale;
        BlockBytes.putF16(block, D, 1 / iscale);
        for (int ib = 0; ib < 16; ib++) {
            block[SC + ib] = (byte) Math.min(127, QuantMath.nearestInt(iscale * scales[ib]));
        }
        float d = BlockBytes.f16(block, D);
        for (int j = 0; j < 16; j++) {
            float dj = d * block[SC + j];
            if (dj == 0) {
                continue;
            }
            for (int ii = 0; ii < 16; ii++) {
                int l = QuantMath.nearestInt(x[xOff + 16 * j + ii] / dj);
                levels[16 * j + ii] = (byte) (Math.max(-32, Math.min(31, l)) + 32);
            }
        }
        for (int h = 0; h < 2; h++) {
            int ql = QL + 64 * h;
            int qh = QH + 32 * h;
            int lv = 128 * h;
            for (int l = 0; l < 32; l++) {
                int q1 = levels[lv + l];
                int q2 = levels[lv + l + 32];
                int q3 = levels[lv + l + 64];
                int q4 = levels[lv + l + 96];
                block[ql + l] = (byte) ((q1 & 0xF) | (q3 & 0xF) << 4);
                block[ql + l + 32] = (byte) ((q2 & 0xF) | (q4 & 0xF) << 4);
                block[qh + l] = (byte) (q1 >> 4 | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        // Scalar on purpose: a Vector API version (2.3 against 0.7 G weights/s) made the Q6_K decode kernel
        // that runs after a prefill ~25 % slower (17 against 22-26 tok/s on the 1B Q6_K file, alternated runs):
        // C2 compiled the shared vector code worse once both had run.
        byte[] block = new byte[TYPE.bytesPerBlock()];
        for (int b = 0; b < n / QK; b++) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOffset + (long) b * block.length, block, 0, block.length);
            float d = BlockBytes.f16(block, D);
            int y0 = dstOff + b * QK;
            for (int h = 0; h < 2; h++) {
                int ql = QL + 64 * h;
                int qh = QH + 32 * h;
                int sc = SC + 8 * h;
                int y = y0 + 128 * h;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int hb = block[qh + l];
                    int q1 = ((block[ql + l] & 0xF) | (hb & 3) << 4) - 32;
                    int q2 = ((block[ql + l + 32] & 0xF) | (hb >> 2 & 3) << 4) - 32;
                    int q3 = ((block[ql + l] & 0xFF) >> 4 | (hb >> 4 & 3) << 4) - 32;
                    int q4 = ((block[ql + l + 32] & 0xFF) >> 4 | (hb >> 6 & 3) << 4) - 32;
                    // C: d * sc * q, i.e. (d·sc)·q, two roundings
                    dst[y + l] = d * block[sc + is] * q1;
                    dst[y + l + 32] = d * block[sc + is + 2] * q2;
                    dst[y + l + 64] = d * block[sc + is + 4] * q3;
                    dst[y + l + 96] = d * block[sc + is + 6] * q4;
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        // The whole row in one short method, one accumulator per weight group (one chain was FMA-latency bound).
        FloatVector acc1 = FloatVector.zero(FS);
        FloatVector acc2 = FloatVector.zero(FS);
        FloatVector acc3 = FloatVector.zero(FS);
        FloatVector acc4 = FloatVector.zero(FS);
        for (int b = 0; b < n / QK; b++) {
            long off = rowOffset + (long) b * TYPE.bytesPerBlock();
            int xo = xOff + b * QK;
            float d = BlockBytes.f16(row, off + D);
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l += L) {
                    // lanes l.. of half h: weights l, l+32, l+64, l+96 (+128h), each group with its own scale
                    long ql = off + QL + 64 * h + l;
                    long sc = off + SC + 8 * h + l / 16;
                    int xl = xo + 128 * h + l;
                    ByteVector lo = ByteVector.fromMemorySegment(BS, row, ql, LE);
                    ByteVector hi = ByteVector.fromMemorySegment(BS, row, ql + 32, LE);
                    ByteVector hb = ByteVector.fromMemorySegment(BS, row, off + QH + 32 * h + l, LE);
                    ByteVector q1 = lo.and((byte) 0xF).or(KVectors.shiftBits(hb, 4).and((byte) 0x30));
                    ByteVector q2 = hi.and((byte) 0xF).or(KVectors.shiftBits(hb, 2).and((byte) 0x30));
                    ByteVector q3 = KVectors.shiftBits(lo, -4).and((byte) 0xF).or(hb.and((byte) 0x30));
                    ByteVector q4 = KVectors.shiftBits(hi, -4).and((byte) 0xF).or(KVectors.shiftBits(hb, -2).and((byte) 0x30));
                    FloatVector w1 = ((FloatVector) q1.sub((byte) 32).convertShape(VectorOperators.B2F, FS, 0)).mul(d * row.get(ValueLayout.JAVA_BYTE, sc));
                    FloatVector w2 = ((FloatVector) q2.sub((byte) 32).convertShape(VectorOperators.B2F, FS, 0)).mul(d * row.get(ValueLayout.JAVA_BYTE, sc + 2));
                    FloatVector w3 = ((FloatVector) q3.sub((byte) 32).convertShape(VectorOperators.B2F, FS, 0)).mul(d * row.get(ValueLayout.JAVA_BYTE, sc + 4));
                    FloatVector w4 = ((FloatVector) q4.sub((byte) 32).convertShape(VectorOperators.B2F, FS, 0)).mul(d * row.get(ValueLayout.JAVA_BYTE, sc + 6));
                    acc1 = w1.fma(FloatVector.fromArray(FS, x, xl), acc1);
                    acc2 = w2.fma(FloatVector.fromArray(FS, x, xl + 32), acc2);
                    acc3 = w3.fma(FloatVector.fromArray(FS, x, xl + 64), acc3);
                    acc4 = w4.fma(FloatVector.fromArray(FS, x, xl + 96), acc4);
                }
            }
        }
        return Lanes.sum(acc1.add(acc2).add(acc3.add(acc4)));
    }

    @Override
    public LevelGrid levelGrid() {
        return LevelGrids.Q6_K;
    }
}
