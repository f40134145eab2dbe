package dev.qforge.format;

import dev.qforge.numeric.FloatBits;

import java.io.IOException;
import java.io.OutputStream;

/** Little-endian encodings of float arrays for writers, in buffered slices so that large arrays stream. */
public final class FloatEncoding {
    private static final int SLICE = 1 << 16;

    private FloatEncoding() {
    }

    public static void writeF32(OutputStream out, float[] v, int off, int n) throws IOException {
        byte[] buf = new byte[Math.min(n, SLICE) * 4];
        for (int start = 0; start < n; start += SLICE) {
            int len = Math.min(SLICE, n - start);
            for (int i = 0; i < len; i++) {
                int bits = Float.floatToRawIntBits(v[off + start + i]);
                buf[4 * i] = (byte) bits;
                buf[4 * i + 1] = (byte) (bits >>> 8);
                buf[4 * i + 2] = (byte) (bits >>> 16);
                buf[4 * i + 3] = (byte) (bits >>> 24);
            }
            out.write(buf, 0, len * 4);
        }
    }

    public static void writeBf16(OutputStream out, float[] v, int off, int n) throws IOException {
        writeShorts(out, v, off, n, true);
    }

    public static void writeF16(OutputStream out, float[] v, int off, int n) throws IOException {
        writeShorts(out, v, off, n, false);
    }

    private static void writeShorts(OutputStream out, float[] v, int off, int n, boolean bf16) throws IOException {
        byte[] buf = new byte[Math.min(n, SLICE) * 2];
        for (int start = 0; start < n; start += SLICE) {
            int len = Math.min(SLICE, n - start);
            for (int i = 0; i < len; i++) {
                float f = v[off + start + i];
                short bits = bf16 ? FloatBits.floatToBf16(f) : FloatBits.floatToF16(f);
                buf[2 * i] = (byte) bits;
                buf[2 * i + 1] = (byte) (bits >>> 8);
            }
            out.write(buf, 0, len * 2);
        }
    }
}
