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
 * llama.cpp's Q8_K, the format K-quant dot products take their activations in: 256 values in 292
 * bytes — F32 d, 256 int8 quants, and 16 int16 sums of the quants of each group of 16 (bsums, so that
 * a dot against a format with per-sub-block mins can subtract min·Σq without touching the quants).
 * Value = d·q. Never stored in model files.
 *
 * <p>Quantization follows ggml's quantize_row_q8_K_ref: the largest-magnitude value maps to −127 (not
 * −128, so that every quant negates without overflow) and d = 1/iscale stays a full float. Importance
 * is ignored: ggml has no importance path for Q8_K.
 */
public final class Q8KFormat extends GgmlBlockFormat {
    private static final GgmlType TYPE = GgmlType.Q8_K;
    private static final int QK = 256;
    private static final int QS = 4;
    private static final int BSUMS = QS + QK;

    public Q8KFormat() {
        super(TYPE);
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset) {
        byte[] block = new byte[TYPE.bytesPerBlock()];
        for (int b = 0; b < n / QK; b++) {
            quantizeBlock(src, srcOff + b * QK, block);
            MemorySegment.copy(block, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * block.length, block.length);
        }
    }

    private static void quantizeBlock(float[] x, int xOff, byte[] block) {
        float max = 0;
        float amax = 0;
        for (int j = 0; j < QK; j++) {
            float ax = Math.abs(x[xOff + j]);
            if (ax > amax) {
                amax = ax;
                max = x[xOff + j];
            }
        }
        if (amax == 0) {
            // ggml zeroes d and the quants and leaves bsums as they were; zeros are what it means
            java.util.Arrays.fill(block, (byte) 0);
            return;
        }
        float iscale = -127f / max;
        for (int j = 0; j < QK; j++) {
            block[QS + j] = (byte) Math.min(127, QuantMath.nearestInt(iscale * x[xOff + j]));
        }
        for (int g = 0; g < 16; g++) {
            int sum = 0;
            for (int ii = 0; ii < 16; ii++) {
                sum += block[QS + 16 * g + ii];
            }
            BlockBytes.putI16(block, BSUMS + 2 * g, sum);
        }
        BlockBytes.putF32(block, 0, 1 / iscale);
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff) {
        byte[] block = new byte[TYPE.bytesPerBlock()];
        for (int b = 0; b < n / QK; b++) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOffset + (long) b * block.length, block, 0, block.length);
            float d = BlockBytes.f32(block, 0);
            for (int j = 0; j < QK; j++) {
                dst[dstOff + b * QK + j] = d * block[QS + j];
            }
        }
    }

    @Override
    public float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff) {
        float sum = 0;
        for (int b = 0; b < n / QK; b++) {
            long off = rowOffset + (long) b * TYPE.bytesPerBlock();
            sum += row.get(LittleEndian.F32, off) * quantDot(row, off + QS, x, xOff + b * QK);
        }
        return sum;
    }

    /** Σ q·x over the 256 quants of one block. */
    private static float quantDot(MemorySegment row, long q, float[] x, int xo) {
        FloatVector acc = FloatVector.zero(FS);
        for (int i = 0; i < QK; i += L) {
            acc = ((FloatVector) ByteVector.fromMemorySegment(BS, row, q + i, LE).convertShape(VectorOperators.B2F, FS, 0)).fma(FloatVector.fromArray(FS, x, xo + i), acc);
        }
        return Lanes.sum(acc);
    }
}
