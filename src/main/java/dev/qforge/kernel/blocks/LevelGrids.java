package dev.qforge.kernel.blocks;


import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Each format's {@link LevelGrid}: where its blocks keep the scales and the level bits, read the same way
 * its dequantizer reads them (so that scale·codebook[k] + offset is, bit for bit, the float the dequantizer
 * computes for level k). The K-quant grids copy a block into an array and out again, as their quantizers do.
 */
final class LevelGrids {
    private LevelGrids() {
    }

    /** Weights [from, from + count) all on one grid: scale s, offset off (formats with one scale per block). */
    static void fill(float[] scale, float[] offset, int from, int count, float s, float off) {
        java.util.Arrays.fill(scale, from, from + count, s);
        java.util.Arrays.fill(offset, from, from + count, off);
    }

    private static float[] range(int from, int count) {
        float[] cb = new float[count];
        for (int k = 0; k < count; k++) {
            cb[k] = from + k;
        }
        return cb;
    }

    private static byte[] load(MemorySegment row, long off, byte[] block) {
        MemorySegment.copy(row, ValueLayout.JAVA_BYTE, off, block, 0, block.length);
        return block;
    }

    private static void store(byte[] block, MemorySegment row, long off) {
        MemorySegment.copy(block, 0, row, ValueLayout.JAVA_BYTE, off, block.length);
    }

    private static float f16(byte[] b, int off) {
        return BlockBytes.f16(MemorySegment.ofArray(b), off);
    }

    /** A format of 32-weight blocks: one f16 scale, then the levels. */
    private abstract static class Small implements LevelGrid {
        final int bytes;
        private final float[] codebook;
        private final boolean uniform;

        Small(GgmlType type, float[] codebook, boolean uniform) {
            this.bytes = type.bytesPerBlock();
            this.codebook = codebook;
            this.uniform = uniform;
        }

        @Override
        public final float[] codebook() {
            return codebook;
        }

        @Override
        public final boolean uniform() {
            return uniform;
        }

        @Override
        public final void grid(MemorySegment row, long rowOffset, int n, float[] scale, float[] offset) {
            for (int b = 0; b < n / 32; b++) {
                float d = BlockBytes.f16(row, rowOffset + (long) b * bytes);
                for (int j = 0; j < 32; j++) {
                    scale[b * 32 + j] = d;
                    offset[b * 32 + j] = 0;
                }
            }
        }
    }

    /** Q8_0: level k is the int8 k − 128. */
    static final LevelGrid Q8_0 = new Small(GgmlType.Q8_0, range(-128, 256), true) {
        @Override
        public void setLevels(MemorySegment row, long rowOffset, int n, int[] levels, int levelsOff) {
            for (int b = 0; b < n / 32; b++) {
                for (int j = 0; j < 32; j++) {
                    row.set(ValueLayout.JAVA_BYTE, rowOffset + (long) b * bytes + 2 + j, (byte) (levels[levelsOff + 32 * b + j] - 128));
                }
            }
        }
    };

    /** Sets the nibbles of 32-weight blocks laid out as Q4_0, IQ4_NL and MXFP4: weight j low nibble of byte j, j+16 its high one. */
    static void setNibbles(MemorySegment row, long blockOff, int[] levels, int from) {
        for (int j = 0; j < 16; j++) {
            BlockBytes.putU8(row, blockOff + j, levels[from + j] | levels[from + j + 16] << 4);
        }
    }

    /** Q4_0: level k is k − 8. */
    static final LevelGrid Q4_0 = new Small(GgmlType.Q4_0, range(-8, 16), true) {
        @Override
        public void setLevels(MemorySegment row, long rowOffset, int n, int[] levels, int levelsOff) {
            for (int b = 0; b < n / 32; b++) {
                setNibbles(row, rowOffset + (long) b * bytes + 2, levels, levelsOff + 32 * b);
            }
        }
    };

    private static float[] iq4Values() {
        float[] v = new float[16];
        for (int k = 0; k < 16; k++) {
            v[k] = Iq4NonLinear.VALUES[k];
        }
        return v;
    }

    /** IQ4_NL: level k is the non-linear table's k-th value. */
    static final LevelGrid IQ4_NL = new Small(GgmlType.IQ4_NL, iq4Values(), false) {
        @Override
        public void setLevels(MemorySegment row, long rowOffset, int n, int[] levels, int levelsOff) {
            for (int b = 0; b < n / 32; b++) {
                setNibbles(row, rowOffset + (long) b * bytes + 2, levels, levelsOff + 32 * b);
            }
        }
    };

    /** IQ4_XS: 256 weights, a 6-bit scale per 32, the IQ4 table. */
    static final LevelGrid IQ4_XS = new LevelGrid() {
        private final float[] codebook = iq4Values();
        private final int bytes = GgmlType.IQ4_XS.bytesPerBlock();

        @Override
        public float[] codebook() {
            return codebook;
        }

        @Override
        public boolean uniform() {
            return false;
        }

        @Override
        public void grid(MemorySegment row, long rowOffset, int n, float[] scale, float[] offset) {
            for (int b = 0; b < n / 256; b++) {
                long o = rowOffset + (long) b * bytes;
                float d = BlockBytes.f16(row, o);
                for (int ib = 0; ib < 8; ib++) {
                    float dl = d * (IQ4XSFormat.code(row, o, ib) - 32);
                    for (int j = 0; j < 32; j++) {
                        scale[256 * b + 32 * ib + j] = dl;
                        offset[256 * b + 32 * ib + j] = 0;
                    }
                }
            }
        }

        @Override
        public void setLevels(MemorySegment row, long rowOffset, int n, int[] levels, int levelsOff) {
            for (int b = 0; b < n / 256; b++) {
                for (int ib = 0; ib < 8; ib++) {
                    setNibbles(row, rowOffset + (long) b * bytes + 8 + 16 * ib, levels, levelsOff + 256 * b + 32 * ib);
                }
            }
        }
    };

    /** The K-quants: 256-weight blocks copied into an array, read and written as their dequantizers do. */
    private abstract static class KGrid implements LevelGrid {
        private final int bytes;
        private final float[] codebook;

        KGrid(GgmlType type, float[] codebook) {
            this.bytes = type.bytesPerBlock();
            this.codebook = codebook;
        }

        @Override
        public final float[] codebook() {
            return codebook;
        }

        @Override
        public final boolean uniform() {
            return true;
        }

        @Override
        public final void grid(MemorySegment row, long rowOffset, int n, float[] scale, float[] offset) {
            byte[] block = new byte[bytes];
            for (int b = 0; b < n / 256; b++) {
                blockGrid(load(row, rowOffset + (long) b * bytes, block), scale, offset, 256 * b);
            }
        }

        @Override
        public final void setLevels(MemorySegment row, long rowOffset, int n, int[] levels, int levelsOff) {
            byte[] block = new byte[bytes];
            for (int b = 0; b < n / 256; b++) {
                long o = rowOffset + (long) b * bytes;
                blockLevels(load(row, o, block), levels, levelsOff + 256 * b);
                store(block, row, o);
            }
        }

        abstract void blockGrid(byte[] block, float[] scale, float[] offset, int at);

        abstract void blockLevels(byte[] block, int[] levels, int from);
    }

    /** Q4_K and Q5_K: 8 sub-blocks of 32 with a 6-bit scale and min each; value d·sc·k − dmin·m. */
    private abstract static class ScaleMinGrid extends KGrid {
        ScaleMinGrid(GgmlType type, int levels) {
            super(type, range(0, levels));
        }

        @Override
        final void blockGrid(byte[] block, float[] scale, float[] offset, int at) {
            float d = f16(block, 0);
            float dmin = f16(block, 2);
            long lo = BlockBytes.i64(block, 4);
            int hi = BlockBytes.i32(block, 12);
            for (int j = 0; j < 8; j++) {
                float dl = d * PackedScales6.scale(lo, hi, j);
                float ml = dmin * PackedScales6.min(lo, hi, j);
                for (int l = 0; l < 32; l++) {
                    scale[at + 32 * j + l] = dl;
                    offset[at + 32 * j + l] = -ml;
                }
            }
        }
    }

    static final LevelGrid Q4_K = new ScaleMinGrid(GgmlType.Q4_K, 16) {
        @Override
        void blockLevels(byte[] block, int[] levels, int from) {
            int qs = ScaleMinSearch.HEAD_BYTES;
            for (int r = 0; r < 4; r++) {
                for (int l = 0; l < 32; l++) {
                    block[qs + 32 * r + l] = (byte) (levels[from + 64 * r + l] | levels[from + 64 * r + 32 + l] << 4);
                }
            }
        }
    };

    static final LevelGrid Q5_K = new ScaleMinGrid(GgmlType.Q5_K, 32) {
        @Override
        void blockLevels(byte[] block, int[] levels, int from) {
            int qh = ScaleMinSearch.HEAD_BYTES;
            int qs = qh + 32;
            java.util.Arrays.fill(block, qh, qh + 32, (byte) 0);
            for (int r = 0; r < 4; r++) {
                for (int l = 0; l < 32; l++) {
                    int a = levels[from + 64 * r + l];
                    int b = levels[from + 64 * r + 32 + l];
                    block[qs + 32 * r + l] = (byte) ((a & 0xF) | (b & 0xF) << 4);
                    block[qh + l] |= (byte) ((a >> 4) << (2 * r) | (b >> 4) << (2 * r + 1));
                }
            }
        }
    };

    /** Q6_K: 16 sub-blocks of 16 with an int8 scale; value d·sc·(k − 32). */
    static final LevelGrid Q6_K = new KGrid(GgmlType.Q6_K, range(-32, 64)) {
        private static final int QL = 0;
        private static final int QH = 128;
        private static final int SC = 192;
        private static final int D = 208;

        @Override
        void blockGrid(byte[] block, float[] scale, float[] offset, int at) {
            float d = f16(block, D);
            for (int i = 0; i < 256; i++) {
                // weight 128h + 32g + l uses scale 8h + 2g + l/16
                int h = i / 128;
                int g = i % 128 / 32;
                int l = i % 32;
                scale[at + i] = d * block[SC + 8 * h + 2 * g + l / 16];
                offset[at + i] = 0;
            }
        }

        @Override
        void blockLevels(byte[] block, int[] levels, int from) {
            for (int h = 0; h < 2; h++) {
                int ql = QL + 64 * h;
                int qh = QH + 32 * h;
                int y = from + 128 * h;
                for (int l = 0; l < 32; l++) {
                    int q1 = levels[y + l];
                    int q2 = levels[y + l + 32];
                    int q3 = levels[y + l + 64];
                    int q4 = levels[y + l + 96];
                    block[ql + l] = (byte) ((q1 & 0xF) | (q3 & 0xF) << 4);
                    block[ql + l + 32] = (byte) ((q2 & 0xF) | (q4 & 0xF) << 4);
                    block[qh + l] = (byte) ((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
                }
            }
        }
    };

    /** Q3_K: 16 sub-blocks of 16 with a 6-bit signed scale; value d·(sc − 32)·(k − 4), k's high bit in hmask. */
    static final LevelGrid Q3_K = new KGrid(GgmlType.Q3_K, range(-4, 8)) {
        private static final int HM = 0;
        private static final int QS = 32;
        private static final int SC = 96;
        private static final int D = 108;

        @Override
        void blockGrid(byte[] block, float[] scale, float[] offset, int at) {
            float d = f16(block, D);
            for (int i = 0; i < 256; i++) {
                scale[at + i] = d * (Q3KFormat.scale(block, SC, i / 16) - 32);
                offset[at + i] = 0;
            }
        }

        @Override
        void blockLevels(byte[] block, int[] levels, int from) {
            java.util.Arrays.fill(block, HM, QS + 64, (byte) 0);
            for (int i = 0; i < 256; i++) {
                int k = levels[from + i];
                int h = i / 128;
                int s = i / 32 % 4;
                int l = i % 32;
                block[QS + 32 * h + l] |= (byte) ((k & 3) << (2 * s));
                block[HM + l] |= (byte) ((k >> 2) << (i / 32));
            }
        }
    };

    /** Q2_K: 16 sub-blocks of 16 with 4-bit scale and min; value d·sc·k − dmin·m. */
    static final LevelGrid Q2_K = new KGrid(GgmlType.Q2_K, range(0, 4)) {
        private static final int SC = 0;
        private static final int QS = 16;
        private static final int D = 80;
        private static final int DMIN = 82;

        @Override
        void blockGrid(byte[] block, float[] scale, float[] offset, int at) {
            float d = f16(block, D);
            float dmin = f16(block, DMIN);
            for (int j = 0; j < 16; j++) {
                int sc = block[SC + j] & 0xFF;
                float dl = d * (sc & 0xF);
                float ml = dmin * (sc >> 4);
                for (int ii = 0; ii < 16; ii++) {
                    scale[at + 16 * j + ii] = dl;
                    offset[at + 16 * j + ii] = -ml;
                }
            }
        }

        @Override
        void blockLevels(byte[] block, int[] levels, int from) {
            java.util.Arrays.fill(block, QS, QS + 64, (byte) 0);
            for (int i = 0; i < 256; i++) {
                block[QS + 32 * (i / 128) + i % 32] |= (byte) (levels[from + i] << (2 * (i / 32 % 4)));
            }
        }
    };
}
