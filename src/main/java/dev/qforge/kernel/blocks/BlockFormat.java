package dev.qforge.kernel.blocks;

import java.lang.foreign.MemorySegment;

/**
 * One number format of the block-format table: how a row of weights is stored as fixed-size blocks
 * (ggml's type traits). Every format — the plain floats, the legacy and K-quant blocks of llama.cpp,
 * its IQ formats, and later formats of qforge's own — is one implementation registered in
 * {@link BlockFormats}; loading, quantizing a model and the runtime look a format up there and never
 * switch on it. Quantize and dequantize are bit-exact with llama.cpp for the formats it defines.
 *
 * <p>Rows are little-endian bytes in a {@link MemorySegment} (often a slice of a mapped file); a row of
 * n weights takes {@code n / blockSize() * bytesPerBlock()} bytes; n must be a multiple of blockSize.
 */
public interface BlockFormat {
    /** ggml's name, e.g. "Q4_K", "Q8_0", "F16". */
    String name();

    /** ggml's type id (enum ggml_type), as stored in GGUF tensor infos. */
    int ggmlType();

    /** Weights per block: 1 for plain floats, 32 for the legacy formats, 256 for K-quants. */
    int blockSize();

    /** Bytes per block. */
    int bytesPerBlock();

    default double bitsPerWeight() {
        return 8.0 * bytesPerBlock() / blockSize();
    }

    default long rowBytes(long n) {
        return n / blockSize() * bytesPerBlock();
    }

    /**
     * Quantizes n weights src[srcOff ..] into dst at dstOffset (rowBytes(n) bytes).
     *
     * @param importance per-weight importance aligned with src[srcOff ..] (an imatrix's per-column mean
     *                   squared activations), or null; formats that ignore it document so
     */
    void quantize(float[] src, int srcOff, int n, float[] importance, MemorySegment dst, long dstOffset);

    /** Whether qforge can write this format ({@link #quantize}); every format of the table can today. */
    default boolean canQuantize() {
        return true;
    }

    /**
     * Whether {@link #quantize} needs importance (llama.cpp's lattice formats do: llama-quantize refuses to write
     * them without an imatrix, and so does qforge, before any work starts).
     */
    default boolean needsImportance() {
        return false;
    }

    /** Dequantizes n weights of src at srcOffset into dst[dstOff ..]. */
    void dequantize(MemorySegment src, long srcOffset, int n, float[] dst, int dstOff);

    /** Σ w[i]·x[xOff + i] over the n weights of the row at rowOffset; the runtime's hot loop for this format. */
    float dot(MemorySegment row, long rowOffset, int n, float[] x, int xOff);

    /**
     * The format's decode layout (rows repacked in groups of 32 for integer dot products against int8
     * activations), or null where the row-at-a-time {@link #dot} is the decode kernel.
     */
    default InterleavedLayout interleavedLayout() {
        return null;
    }

    /**
     * The grid of values this format can give each weight once a block's scales are chosen, for quantizers
     * that round weight by weight (GPTQ); null where the format offers none (the plain floats).
     */
    default LevelGrid levelGrid() {
        return null;
    }
}
