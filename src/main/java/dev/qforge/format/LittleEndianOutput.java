package dev.qforge.format;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A buffered output stream that writes little-endian numbers and counts every byte, for the binary
 * writers (GGUF, imatrix). {@link #close()} flushes but leaves the underlying stream open.
 */
final class LittleEndianOutput extends OutputStream {
    private final OutputStream out;
    private final byte[] buf = new byte[1 << 16];
    private int used;
    private long written;

    LittleEndianOutput(OutputStream out) {
        this.out = out;
    }

    /** Bytes written so far. */
    long written() {
        return written;
    }

    @Override
    public void write(int b) throws IOException {
        if (used == buf.length) {
            drain();
        }
        buf[used++] = (byte) b;
        written++;
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        if (len > buf.length - used) {
            drain();
            if (len >= buf.length) {
                out.write(b, off, len);
                written += len;
                return;
            }
        }
        System.arraycopy(b, off, buf, used, len);
        used += len;
        written += len;
    }

    void u8(int v) throws IOException {
        write(v);
    }

    void u16(int v) throws IOException {
        write(v);
        write(v >>> 8);
    }

    void u32(int v) throws IOException {
        if (buf.length - used < 4) {
            drain();
        }
        buf[used] = (byte) v;
        buf[used + 1] = (byte) (v >>> 8);
        buf[used + 2] = (byte) (v >>> 16);
        buf[used + 3] = (byte) (v >>> 24);
        used += 4;
        written += 4;
    }

    void u64(long v) throws IOException {
        u32((int) v);
        u32((int) (v >>> 32));
    }

    void f32(float v) throws IOException {
        u32(Float.floatToRawIntBits(v));
    }

    void f64(double v) throws IOException {
        u64(Double.doubleToRawLongBits(v));
    }

    /** Copies the bytes of a segment in slices, so that segments larger than an array can be written. */
    void segment(MemorySegment data) throws IOException {
        long size = data.byteSize();
        for (long off = 0; off < size; ) {
            if (used == buf.length) {
                drain();
            }
            int n = (int) Math.min(buf.length - used, size - off);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, off, buf, used, n);
            used += n;
            written += n;
            off += n;
        }
    }

    /** Zero bytes up to the next multiple of {@code alignment} (a power of two). */
    void padTo(long alignment) throws IOException {
        while (written % alignment != 0) {
            write(0);
        }
    }

    private void drain() throws IOException {
        out.write(buf, 0, used);
        used = 0;
    }

    @Override
    public void flush() throws IOException {
        drain();
        out.flush();
    }

    @Override
    public void close() throws IOException {
        flush();
    }
}
