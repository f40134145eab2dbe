package dev.qforge.kernel;

import dev.qforge.kernel.blocks.F16Rebiased;
import dev.qforge.numeric.FloatBits;
import dev.qforge.numeric.Lanes;
import dev.qforge.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;

import java.lang.foreign.MemorySegment;

import static dev.qforge.kernel.MatMul.FS;
import static dev.qforge.kernel.MatMul.HI_MASK;
import static dev.qforge.kernel.MatMul.IS;
import static dev.qforge.kernel.MatMul.L;
import static dev.qforge.kernel.MatMul.LE;
import static dev.qforge.kernel.blocks.F16Rebiased.FLOAT_BITS;
import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.LSHL;

/**
 * Float decode dots of four rows at once (F32, BF16, F16), their loads interleaved vector by vector ({@link
 * dev.qforge.kernel.blocks.DecodeStreams} says where and why): each row gets the same floats as {@link MatMul#f32Dot1},
 * {@link MatMul#bf16Dot1} or {@link MatMul#f16Dot1} (its chains, in its order, and their lane sum in {@link
 * Lanes#sum}'s order, taken from a scratch array in scalar code so that no vector crosses a call), so a result does
 * not depend on which rows a thread took four at a time.
 */
final class FloatRowsFour {
    private static final ThreadLocal<float[]> LANES = ThreadLocal.withInitial(() -> new float[4 * 16]);

    private FloatRowsFour() {
    }

    /** out[r + i] = row i (at o0 + i·stride, for i below 4) times x[xOff, xOff + cols), as {@link MatMul#f32Dot1}. */
    static void f32(MemorySegment w, long o0, long stride, float[] x, int xOff, int cols, float[] out, int r) {
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = a0;
        FloatVector b0 = a0;
        FloatVector b1 = a0;
        FloatVector c0 = a0;
        FloatVector c1 = a0;
        FloatVector d0 = a0;
        FloatVector d1 = a0;
        long o1 = o0 + stride;
        long o2 = o1 + stride;
        long o3 = o2 + stride;
        int c = 0;
        for (; c + 2 * L <= cols; c += 2 * L) {
            FloatVector x0 = FloatVector.fromArray(FS, x, xOff + c);
            FloatVector x1 = FloatVector.fromArray(FS, x, xOff + c + L);
            long k0 = (long) c * 4;
            long k1 = (long) (c + L) * 4;
            a0 = FloatVector.fromMemorySegment(FS, w, o0 + k0, LE).fma(x0, a0);
            b0 = FloatVector.fromMemorySegment(FS, w, o1 + k0, LE).fma(x0, b0);
            c0 = FloatVector.fromMemorySegment(FS, w, o2 + k0, LE).fma(x0, c0);
            d0 = FloatVector.fromMemorySegment(FS, w, o3 + k0, LE).fma(x0, d0);
            a1 = FloatVector.fromMemorySegment(FS, w, o0 + k1, LE).fma(x1, a1);
            b1 = FloatVector.fromMemorySegment(FS, w, o1 + k1, LE).fma(x1, b1);
            c1 = FloatVector.fromMemorySegment(FS, w, o2 + k1, LE).fma(x1, c1);
            d1 = FloatVector.fromMemorySegment(FS, w, o3 + k1, LE).fma(x1, d1);
        }
        if (c + L <= cols) {
            FloatVector x0 = FloatVector.fromArray(FS, x, xOff + c);
            long k0 = (long) c * 4;
            a0 = FloatVector.fromMemorySegment(FS, w, o0 + k0, LE).fma(x0, a0);
            b0 = FloatVector.fromMemorySegment(FS, w, o1 + k0, LE).fma(x0, b0);
            c0 = FloatVector.fromMemorySegment(FS, w, o2 + k0, LE).fma(x0, c0);
            d0 = FloatVector.fromMemorySegment(FS, w, o3 + k0, LE).fma(x0, d0);
            c += L;
        }
        float[] lanes = LANES.get();
        a0.add(a1).intoArray(lanes, 0);
        b0.add(b1).intoArray(lanes, L);
        c0.add(c1).intoArray(lanes, 2 * L);
        d0.add(d1).intoArray(lanes, 3 * L);
        for (int i = 0; i < 4; i++) {
            long o = o0 + i * stride;
            float s = Lanes.sum(lanes, i * L, L);
            for (int t = c; t < cols; t++) {
                s += w.get(Tensor.F32, o + (long) t * 4) * x[xOff + t];
            }
            out[r + i] = s;
        }
    }

    /**
     * out[r + i] = row i (at o0 + i·stride) times x[xOff, xOff + cols), whose even/odd elements are xe/xo[xsOff ..),
     * as {@link MatMul#bf16Dot1}.
     */
    static void bf16(MemorySegment w, long o0, long stride, float[] x, int xOff, float[] xe, float[] xo, int xsOff,
                     int cols, float[] out, int r) {
        FloatVector ae0 = FloatVector.zero(FS);
        FloatVector ad0 = ae0;
        FloatVector ae1 = ae0;
        FloatVector ad1 = ae0;
        FloatVector be0 = ae0;
        FloatVector bd0 = ae0;
        FloatVector be1 = ae0;
        FloatVector bd1 = ae0;
        FloatVector ce0 = ae0;
        FloatVector cd0 = ae0;
        FloatVector ce1 = ae0;
        FloatVector cd1 = ae0;
        FloatVector de0 = ae0;
        FloatVector dd0 = ae0;
        FloatVector de1 = ae0;
        FloatVector dd1 = ae0;
        long o1 = o0 + stride;
        long o2 = o1 + stride;
        long o3 = o2 + stride;
        int pairs = cols >>> 1;
        int bound = IS.loopBound(pairs);
        int p = 0;
        for (; p + 2 * L <= bound; p += 2 * L) {
            FloatVector xe0 = FloatVector.fromArray(FS, xe, xsOff + p);
            FloatVector xo0 = FloatVector.fromArray(FS, xo, xsOff + p);
            FloatVector xe1 = FloatVector.fromArray(FS, xe, xsOff + p + L);
            FloatVector xo1 = FloatVector.fromArray(FS, xo, xsOff + p + L);
            long k0 = (long) p * 4;
            long k1 = (long) (p + L) * 4;
            IntVector v = IntVector.fromMemorySegment(IS, w, o0 + k0, LE);
            ae0 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe0, ae0);
            ad0 = v.and(HI_MASK).reinterpretAsFloats().fma(xo0, ad0);
            v = IntVector.fromMemorySegment(IS, w, o1 + k0, LE);
            be0 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe0, be0);
            bd0 = v.and(HI_MASK).reinterpretAsFloats().fma(xo0, bd0);
            v = IntVector.fromMemorySegment(IS, w, o2 + k0, LE);
            ce0 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe0, ce0);
            cd0 = v.and(HI_MASK).reinterpretAsFloats().fma(xo0, cd0);
            v = IntVector.fromMemorySegment(IS, w, o3 + k0, LE);
            de0 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe0, de0);
            dd0 = v.and(HI_MASK).reinterpretAsFloats().fma(xo0, dd0);
            v = IntVector.fromMemorySegment(IS, w, o0 + k1, LE);
            ae1 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe1, ae1);
            ad1 = v.and(HI_MASK).reinterpretAsFloats().fma(xo1, ad1);
            v = IntVector.fromMemorySegment(IS, w, o1 + k1, LE);
            be1 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe1, be1);
            bd1 = v.and(HI_MASK).reinterpretAsFloats().fma(xo1, bd1);
            v = IntVector.fromMemorySegment(IS, w, o2 + k1, LE);
            ce1 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe1, ce1);
            cd1 = v.and(HI_MASK).reinterpretAsFloats().fma(xo1, cd1);
            v = IntVector.fromMemorySegment(IS, w, o3 + k1, LE);
            de1 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe1, de1);
            dd1 = v.and(HI_MASK).reinterpretAsFloats().fma(xo1, dd1);
        }
        if (p < bound) {
            FloatVector xe0 = FloatVector.fromArray(FS, xe, xsOff + p);
            FloatVector xo0 = FloatVector.fromArray(FS, xo, xsOff + p);
            long k0 = (long) p * 4;
            IntVector v = IntVector.fromMemorySegment(IS, w, o0 + k0, LE);
            ae0 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe0, ae0);
            ad0 = v.and(HI_MASK).reinterpretAsFloats().fma(xo0, ad0);
            v = IntVector.fromMemorySegment(IS, w, o1 + k0, LE);
            be0 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe0, be0);
            bd0 = v.and(HI_MASK).reinterpretAsFloats().fma(xo0, bd0);
            v = IntVector.fromMemorySegment(IS, w, o2 + k0, LE);
            ce0 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe0, ce0);
            cd0 = v.and(HI_MASK).reinterpretAsFloats().fma(xo0, cd0);
            v = IntVector.fromMemorySegment(IS, w, o3 + k0, LE);
            de0 = v.lanewise(LSHL, 16).reinterpretAsFloats().fma(xe0, de0);
            dd0 = v.and(HI_MASK).reinterpretAsFloats().fma(xo0, dd0);
        }
        float[] lanes = LANES.get();
        ae0.add(ad0).add(ae1.add(ad1)).intoArray(lanes, 0);
        be0.add(bd0).add(be1.add(bd1)).intoArray(lanes, L);
        ce0.add(cd0).add(ce1.add(cd1)).intoArray(lanes, 2 * L);
        de0.add(dd0).add(de1.add(dd1)).intoArray(lanes, 3 * L);
        for (int i = 0; i < 4; i++) {
            long o = o0 + i * stride;
            float s = Lanes.sum(lanes, i * L, L);
            for (int c = 2 * bound; c < cols; c++) {
                s += FloatBits.bf16ToFloat(w.get(Tensor.I16, o + (long) c * 2)) * x[xOff + c];
            }
            out[r + i] = s;
        }
    }
    /**
     * out[r + i] = row i (at o0 + i·stride) of {@link F16Rebiased} weights times x[xOff, xOff + cols), whose even/odd
     * elements times its X_SCALE are xe/xo[xsOff ..), as {@link MatMul#f16Dot1} (which says why that is exact).
     * Written out as {@link #bf16} is, which it differs from only in how a lane becomes two floats: shared through a
     * helper that returns a vector, a kernel this large is where C2 leaves the helper uninlined and boxes the vector.
     */
    static void f16(MemorySegment w, long o0, long stride, float[] x, int xOff, float[] xe, float[] xo, int xsOff,
                    int cols, float[] out, int r) {
        FloatVector ae0 = FloatVector.zero(FS);
        FloatVector ad0 = ae0;
        FloatVector ae1 = ae0;
        FloatVector ad1 = ae0;
        FloatVector be0 = ae0;
        FloatVector bd0 = ae0;
        FloatVector be1 = ae0;
        FloatVector bd1 = ae0;
        FloatVector ce0 = ae0;
        FloatVector cd0 = ae0;
        FloatVector ce1 = ae0;
        FloatVector cd1 = ae0;
        FloatVector de0 = ae0;
        FloatVector dd0 = ae0;
        FloatVector de1 = ae0;
        FloatVector dd1 = ae0;
        long o1 = o0 + stride;
        long o2 = o1 + stride;
        long o3 = o2 + stride;
        int pairs = cols >>> 1;
        int bound = IS.loopBound(pairs);
        int p = 0;
        for (; p + 2 * L <= bound; p += 2 * L) {
            FloatVector xe0 = FloatVector.fromArray(FS, xe, xsOff + p);
            FloatVector xo0 = FloatVector.fromArray(FS, xo, xsOff + p);
            FloatVector xe1 = FloatVector.fromArray(FS, xe, xsOff + p + L);
            FloatVector xo1 = FloatVector.fromArray(FS, xo, xsOff + p + L);
            long k0 = (long) p * 4;
            long k1 = (long) (p + L) * 4;
            IntVector v = IntVector.fromMemorySegment(IS, w, o0 + k0, LE);
            ae0 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe0, ae0);
            ad0 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo0, ad0);
            v = IntVector.fromMemorySegment(IS, w, o1 + k0, LE);
            be0 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe0, be0);
            bd0 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo0, bd0);
            v = IntVector.fromMemorySegment(IS, w, o2 + k0, LE);
            ce0 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe0, ce0);
            cd0 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo0, cd0);
            v = IntVector.fromMemorySegment(IS, w, o3 + k0, LE);
            de0 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe0, de0);
            dd0 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo0, dd0);
            v = IntVector.fromMemorySegment(IS, w, o0 + k1, LE);
            ae1 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe1, ae1);
            ad1 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo1, ad1);
            v = IntVector.fromMemorySegment(IS, w, o1 + k1, LE);
            be1 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe1, be1);
            bd1 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo1, bd1);
            v = IntVector.fromMemorySegment(IS, w, o2 + k1, LE);
            ce1 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe1, ce1);
            cd1 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo1, cd1);
            v = IntVector.fromMemorySegment(IS, w, o3 + k1, LE);
            de1 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe1, de1);
            dd1 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo1, dd1);
        }
        if (p < bound) {
            FloatVector xe0 = FloatVector.fromArray(FS, xe, xsOff + p);
            FloatVector xo0 = FloatVector.fromArray(FS, xo, xsOff + p);
            long k0 = (long) p * 4;
            IntVector v = IntVector.fromMemorySegment(IS, w, o0 + k0, LE);
            ae0 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe0, ae0);
            ad0 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo0, ad0);
            v = IntVector.fromMemorySegment(IS, w, o1 + k0, LE);
            be0 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe0, be0);
            bd0 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo0, bd0);
            v = IntVector.fromMemorySegment(IS, w, o2 + k0, LE);
            ce0 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe0, ce0);
            cd0 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo0, cd0);
            v = IntVector.fromMemorySegment(IS, w, o3 + k0, LE);
            de0 = v.lanewise(LSHL, 16).lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xe0, de0);
            dd0 = v.lanewise(ASHR, 3).and(FLOAT_BITS).reinterpretAsFloats().fma(xo0, dd0);
        }
        float[] lanes = LANES.get();
        ae0.add(ad0).add(ae1.add(ad1)).intoArray(lanes, 0);
        be0.add(bd0).add(be1.add(bd1)).intoArray(lanes, L);
        ce0.add(cd0).add(ce1.add(cd1)).intoArray(lanes, 2 * L);
        de0.add(dd0).add(de1.add(dd1)).intoArray(lanes, 3 * L);
        for (int i = 0; i < 4; i++) {
            long o = o0 + i * stride;
            float s = Lanes.sum(lanes, i * L, L);
            for (int c = 2 * bound; c < cols; c++) {
                s += F16Rebiased.toFloat(w.get(Tensor.I16, o + (long) c * 2)) * x[xOff + c];
            }
            out[r + i] = s;
        }
    }
}
