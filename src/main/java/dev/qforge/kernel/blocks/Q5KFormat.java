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
 * llama.cpp's Q5_K: super-blocks of 256 weights in 176 bytes — F16 d, F16 dmin, 12 bytes of 6-bit
 * scales and mins ({@link PackedScales6}), 32 bytes qh of high bits, 128 bytes qs of low nibbles.
 * Weight i of sub-block j (32 weights) is d·sc[j]·q − dmin·m[j] with q in 0..31. As in Q4_K, byte l of
 * nibble run r holds weights 64r+l (low) and 64r+32+l (high); their fifth bits are bits 2r and 2r+1 of
 * qh[l].
 *
 * <p>Quantization is bit-exact with ggml's quantize_q5_K (quantize_row_q5_K_ref without importance,
 * quantize_row_q5_K_impl with; see {@link ScaleMinSearch}).
 */
public final class Q5KFormat extends GgmlBlockFormat implements ScaledLevels {
    private static final GgmlType TYPE = GgmlType.Q5_K;
    private static final int QK = 256;
    private static final int QH = ScaleMinSearch.HEAD_BYTES;
    private static final int QS = QH + 32;

    public Q5KFormat() {
        super(TYPE);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        ScaleMinSearch search = new ScaleMinSearch(31, -0.5f, 15, true);
        byte[] block = new byte[TYPE.bytesPerBlock()];
        byte[] levels = new byte[QK];
        for (int b = 0; b < n / QK; b++) {
            search.quantize(src, srcOff + b * QK, importance, b * QK, block, levels);
            for (int l = 0; l < 32; l++) {
                block[QH + l] = 0;
            }
            for (int r = 0; r < 4; r++) {
                for (int l = 0; l < 32; l++) {
                    int l1 = levels[64 * r + l];
                    int l2 = levels[64 * r + 32 + l];
                    block[QH + l] |= (byte) ((l1 >> 4) << (2 * r) | (l2 >> 4) << (2 * r + 1));
                    block[QS + 32 * r + l] = (byte) ((l1 & 0xF) | (l2 & 0xF) << 4);
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
                for (int l = 0; l < 32; l++) {
                    int q = (block[QS + 32 * r + l] & 0xF) + ((block[QH + l] >> (2 * r) & 1) << 4);
                    dst[y + 64 * r + l] = d1 * q - m1;
                }
                for (int l = 0; l < 32; l++) {
                    int q = ((block[QS + 32 * r + l] & 0xFF) >> 4) + ((block[QH + l] >> (2 * r + 1) & 1) << 4);
                    dst[y + 64 * r + 32 + l] = d2 * q - m2;
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        // The whole row in one short method with four independent accumulators (one chain was FMA-latency bound).
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
                // run r: low nibbles + qh bit 2r are sub-block 2r, high nibbles + bit 2r+1 sub-block 2r+1
                FloatVector vd1 = FloatVector.broadcast(FS, d * (int) (sc >>> (16 * r) & 0xFF));
                FloatVector vm1 = FloatVector.broadcast(FS, dmin * (int) (mn >>> (16 * r) & 0xFF));
                FloatVector vd2 = FloatVector.broadcast(FS, d * (int) (sc >>> (16 * r + 8) & 0xFF));
                FloatVector vm2 = FloatVector.broadcast(FS, dmin * (int) (mn >>> (16 * r + 8) & 0xFF));
                long q = off + QS + 32 * r;
                int xr = xo + 64 * r;
                byte bit1 = (byte) (1 << 2 * r);
                byte bit2 = (byte) (2 << 2 * r);
                for (int l = 0; l < 32; l += 2 * L) {
                    ByteVector qa = ByteVector.fromMemorySegment(BS, row, q + l, LE);
                    ByteVector qb = ByteVector.fromMemorySegment(BS, row, q + l + L, LE);
                    // qh bit 2r (2r+1) becomes bit 4 of the low (high) nibble's level: test it, blend 16
                    ByteVector ha = ByteVector.fromMemorySegment(BS, row, off + QH + l, LE);
                    ByteVector hb = ByteVector.fromMemorySegment(BS, row, off + QH + l + L, LE);
                    ByteVector qa1 = qa.and((byte) 0xF).blend(qa.and((byte) 0xF).or((byte) 0x10), ha.and(bit1).compare(VectorOperators.NE, 0));
                    ByteVector qb1 = qb.and((byte) 0xF).blend(qb.and((byte) 0xF).or((byte) 0x10), hb.and(bit1).compare(VectorOperators.NE, 0));
                    ByteVector na = KVectors.shiftBits(qa, -4).and((byte) 0xF);
                    ByteVector nb = KVectors.shiftBits(qb, -4).and((byte) 0xF);
                    ByteVector qa2 = na.blend(na.or((byte) 0x10), ha.and(bit2).compare(VectorOperators.NE, 0));
                    ByteVector qb2 = nb.blend(nb.or((byte) 0x10), hb.and(bit2).compare(VectorOperators.NE, 0));
                    FloatVector wa1 = ((FloatVector) qa1.convertShape(VectorOperators.B2F, FS, 0)).fma(vd1, vm1);
                    FloatVector wb1 = ((FloatVector) qb1.convertShape(VectorOperators.B2F, FS, 0)).fma(vd1, vm1);
                    FloatVector wa2 = ((FloatVector) qa2.convertShape(VectorOperators.B2F, FS, 0)).fma(vd2, vm2);
                    FloatVector wb2 = ((FloatVector) qb2.convertShape(VectorOperators.B2F, FS, 0)).fma(vd2, vm2);
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
        return LevelGrids.Q5_K;
    }

    private static final Shape SHAPE = new Shape(Shape.range(0, 31), 32, QK, true);

    @Override
    public Shape shape() {
        return SHAPE;
    }

    /** Levels the 5-bit q, factors the 6-bit scales, d: as {@link #dequantize}. */
    @Override
    public float unpack(MemorySegment s, long o, byte[] level, byte[] factor) {
        long lo = s.get(dev.qforge.numeric.LittleEndian.I64, o + 4);
        int hi = BlockBytes.u32(s, o + 12);
        for (int sub = 0; sub < 8; sub++) {
            factor[sub] = (byte) PackedScales6.scale(lo, hi, sub);
        }
        for (int r = 0; r < 4; r++) {
            for (int l = 0; l < 32; l++) {
                int q = BlockBytes.u8(s, o + QS + 32 * r + l);
                int h = BlockBytes.u8(s, o + QH + l);
                level[64 * r + l] = (byte) ((q & 0xF) + ((h >> (2 * r) & 1) << 4));
                level[64 * r + 32 + l] = (byte) ((q >> 4) + ((h >> (2 * r + 1) & 1) << 4));
            }
        }
        return BlockBytes.f16(s, o);
    }

    /** Offsets the 6-bit mins, dmin. */
    @Override
    public float unpackOffsets(MemorySegment s, long o, byte[] offset) {
        long lo = s.get(dev.qforge.numeric.LittleEndian.I64, o + 4);
        int hi = BlockBytes.u32(s, o + 12);
        for (int sub = 0; sub < 8; sub++) {
            offset[sub] = (byte) PackedScales6.min(lo, hi, sub);
        }
        return BlockBytes.f16(s, o + 2);
    }
}
