package dev.qforge.kernel.blocks;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static dev.qforge.kernel.blocks.KVectors.FS;
import static dev.qforge.kernel.blocks.KVectors.L;

/**
 * llama.cpp's Q4_K: super-blocks of 256 weights in 144 bytes — F16 d, F16 dmin, 12 bytes of 6-bit
 * scales and mins ({@link PackedScales6}), and 128 bytes of 4-bit quants. Weight i of sub-block j
 * (32 weights) is d·sc[j]·q − dmin·m[j]. The quants come in 4 runs of 32 bytes: byte l of run r holds
 * weight 64r+l in its low nibble and weight 64r+32+l in its high nibble.
 *
 * <p>Quantization is bit-exact with ggml's quantize_q4_K: without importance its quantize_row_q4_K_ref,
 * with importance quantize_row_q4_K_impl (see {@link ScaleMinSearch}).
 */
public final class Q4KFormat implements BlockFormat {
    private static final GgmlType TYPE = GgmlType.Q4_K;
    private static final int QK = 256;
    private static final int QS = ScaleMinSearch.HEAD_BYTES; // quants start after the 16-byte head

    @Override
    public String name() {
        return TYPE.name();
    }

    @Override
    public int ggmlType() {
        return TYPE.id();
    }

    @Override
    public int blockSize() {
        return TYPE.blockSize();
    }

    @Override
    public int bytesPerBlock() {
        return TYPE.bytesPerBlock();
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        ScaleMinSearch search = new ScaleMinSearch(15, -1f, 20, false);
        byte[] block = new byte[TYPE.bytesPerBlock()];
        byte[] levels = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            search.quantize(src, srcOff + b * QK, importance, b * QK, block, levels);
            for (int r = 0; r < 4; r++) {
                for (int l = 0; l < 32; l++) {
                    block[QS + 32 * r + l] = (byte) (levels[64 * r + l] | levels[64 * r + 32 + l] << 4);
                }
            }
            MemorySegment.copy(block, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * block.length, block.length);
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        byte[] block = new byte[TYPE.bytesPerBlock()];
        for (int b = 0; b < n / QK; b++) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOffset + (long) b * block.length, block, 0, block.length);
            float d = BlockArrayFields.f16(block, 0);
            float dmin = BlockArrayFields.f16(block, 2);
            long lo = BlockArrayFields.i64(block, 4);
            int hi = BlockArrayFields.i32(block, 12);
            int y = dstOff + b * QK;
            for (int r = 0; r < 4; r++) {
                float d1 = d * PackedScales6.scale(lo, hi, 2 * r);
                float m1 = dmin * PackedScales6.min(lo, hi, 2 * r);
                float d2 = d * PackedScales6.scale(lo, hi, 2 * r + 1);
                float m2 = dmin * PackedScales6.min(lo, hi, 2 * r + 1);
                for (int l = 0; l < 32; l++) {
                    dst[y + 64 * r + l] = d1 * (block[QS + 32 * r + l] & 0xF) - m1;
                }
                for (int l = 0; l < 32; l++) {
                    dst[y + 64 * r + 32 + l] = d2 * ((block[QS + 32 * r + l] & 0xFF) >> 4) - m2;
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

    private static float blockDot(MemorySegment row, long off, float[] x, int xo) {
        float d = KBlockReads.f16(row, off);
        float dmin = KBlockReads.f16(row, off + 2);
        long lo = row.get(KBlockReads.I64, off + 4);
        int hi = row.get(KBlockReads.I32, off + 12);
        FloatVector acc = FloatVector.zero(FS);
        for (int r = 0; r < 4; r++) {
            acc = runDot(row, off + QS + 32 * r, x, xo + 64 * r,
                    d * PackedScales6.scale(lo, hi, 2 * r), dmin * PackedScales6.min(lo, hi, 2 * r),
                    d * PackedScales6.scale(lo, hi, 2 * r + 1), dmin * PackedScales6.min(lo, hi, 2 * r + 1), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    /** One run of 32 quant bytes: 64 weights, low nibbles with (d1, m1), high nibbles with (d2, m2). */
    private static FloatVector runDot(MemorySegment row, long q, float[] x, int xo,
                                      float d1, float m1, float d2, float m2, FloatVector acc) {
        FloatVector vd1 = FloatVector.broadcast(FS, d1);
        FloatVector vm1 = FloatVector.broadcast(FS, -m1);
        FloatVector vd2 = FloatVector.broadcast(FS, d2);
        FloatVector vm2 = FloatVector.broadcast(FS, -m2);
        for (int l = 0; l < 32; l += L) {
            ByteVector qb = KVectors.bytes(row, q + l);
            FloatVector w1 = KVectors.toFloats(qb.and((byte) 0xF)).fma(vd1, vm1);
            FloatVector w2 = KVectors.toFloats(qb.lanewise(VectorOperators.LSHR, 4)).fma(vd2, vm2);
            acc = w1.fma(FloatVector.fromArray(FS, x, xo + l), acc);
            acc = w2.fma(FloatVector.fromArray(FS, x, xo + 32 + l), acc);
        }
        return acc;
    }
}
