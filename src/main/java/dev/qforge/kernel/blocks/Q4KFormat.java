package dev.qforge.kernel.blocks;

import dev.qforge.numeric.Lanes;
import dev.qforge.numeric.LittleEndian;
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
 * llama.cpp's Q4_K: super-blocks of 256 weights in 144 bytes — F16 d, F16 dmin, 12 bytes of 6-bit
 * scales and mins ({@link PackedScales6}), and 128 bytes of 4-bit quants. Weight i of sub-block j
 * (32 weights) is d·sc[j]·q − dmin·m[j]. The quants come in 4 runs of 32 bytes: byte l of run r holds
 * weight 64r+l in its low nibble and weight 64r+32+l in its high nibble.
 *
 * <p>Quantization is bit-exact with ggml's quantize_q4_K: without importance its quantize_row_q4_K_ref,
 * with importance quantize_row_q4_K_impl (see {@link ScaleMinSearch}).
 */
public final class Q4KFormat extends GgmlBlockFormat {
    private static final GgmlType TYPE = GgmlType.Q4_K;
    private static final int QK = 256;
    private static final int QS = ScaleMinSearch.HEAD_BYTES; // quants start after the 16-byte head

    public Q4KFormat() {
        super(TYPE, new Q4KInterleaved());
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
            float d = BlockBytes.f16(block, 0);
            float dmin = BlockBytes.f16(block, 2);
            long lo = BlockBytes.i64(block, 4);
            int hi = BlockBytes.i32(block, 12);
            int y = dstOff + b * QK;
            for (int r = 0; r < 4; r++) {
                float d1 = d * PackedScales6.scale(lo, hi, 2 * r);
                float m1 = dmin * PackedScales6.min(lo, hi, 2 * r);
                float d2 = d * PackedScales6.scale(lo, hi, 2 * r + 1);
                float m2 = dmin * PackedScales6.min(lo, hi, 2 * r + 1);
                for (int h = 0; h < 32; h += 16) {
                    ByteVector qs = BlockDot.load16(src, srcOffset + (long) b * block.length + QS + 32 * r + h);
                    BlockDot.scaleMinusInto(BlockDot.lowNibbles(qs), d1, m1, dst, y + 64 * r + h);
                    BlockDot.scaleMinusInto(BlockDot.highNibbles(qs), d2, m2, dst, y + 64 * r + 32 + h);
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        // The whole row in one short method with four independent accumulators: the old kernel chained
        // every FMA of a super-block through one accumulator and was bound by FMA latency.
        FloatVector acc0 = FloatVector.zero(FS);
        FloatVector acc1 = FloatVector.zero(FS);
        FloatVector acc2 = FloatVector.zero(FS);
        FloatVector acc3 = FloatVector.zero(FS);
        for (int b = 0; b < n / QK; b++) {
            long off = rowOffset + (long) b * TYPE.bytesPerBlock();
            int xo = xOff + b * QK;
            float d = BlockBytes.f16(row, off);
            float dmin = -BlockBytes.f16(row, off + 2);
            long lo = row.get(LittleEndian.I64, off + 4);
            int hi = row.get(LittleEndian.I32, off + 12);
            long sc = PackedScales6.scales(lo, hi);
            long mn = PackedScales6.mins(lo, hi);
            for (int r = 0; r < 4; r++) {
                // run r: 32 bytes, low nibbles are sub-block 2r, high nibbles sub-block 2r+1
                FloatVector vd1 = FloatVector.broadcast(FS, d * (int) (sc >>> (16 * r) & 0xFF));
                FloatVector vm1 = FloatVector.broadcast(FS, dmin * (int) (mn >>> (16 * r) & 0xFF));
                FloatVector vd2 = FloatVector.broadcast(FS, d * (int) (sc >>> (16 * r + 8) & 0xFF));
                FloatVector vm2 = FloatVector.broadcast(FS, dmin * (int) (mn >>> (16 * r + 8) & 0xFF));
                long q = off + QS + 32 * r;
                int xr = xo + 64 * r;
                for (int l = 0; l < 32; l += 2 * L) {
                    ByteVector qa = ByteVector.fromMemorySegment(BS, row, q + l, LE);
                    ByteVector qb = ByteVector.fromMemorySegment(BS, row, q + l + L, LE);
                    FloatVector wa1 = ((FloatVector) qa.and((byte) 0xF).convertShape(VectorOperators.B2F, FS, 0)).fma(vd1, vm1);
                    FloatVector wb1 = ((FloatVector) qb.and((byte) 0xF).convertShape(VectorOperators.B2F, FS, 0)).fma(vd1, vm1);
                    FloatVector wa2 = ((FloatVector) KVectors.shiftBits(qa, -4).and((byte) 0xF).convertShape(VectorOperators.B2F, FS, 0)).fma(vd2, vm2);
                    FloatVector wb2 = ((FloatVector) KVectors.shiftBits(qb, -4).and((byte) 0xF).convertShape(VectorOperators.B2F, FS, 0)).fma(vd2, vm2);
                    acc0 = wa1.fma(FloatVector.fromArray(FS, x, xr + l), acc0);
                    acc1 = wb1.fma(FloatVector.fromArray(FS, x, xr + l + L), acc1);
                    acc2 = wa2.fma(FloatVector.fromArray(FS, x, xr + 32 + l), acc2);
                    acc3 = wb2.fma(FloatVector.fromArray(FS, x, xr + 32 + l + L), acc3);
                }
            }
        }
        return Lanes.sum(acc0.add(acc1).add(acc2.add(acc3)));
    }

    @Override
    public LevelGrid levelGrid() {
        return LevelGrids.Q4_K;
    }
}
