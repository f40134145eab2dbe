package dev.qforge.kernel.blocks;

/**
 * The part every llama.cpp format shares: its name, id and sizes come from {@link GgmlType} (never
 * repeated as numbers in the formats), and row lengths are checked once here.
 */
abstract class GgmlBlockFormat implements BlockFormat {
    private final GgmlType type;
    private final InterleavedLayout interleavedLayout;
    /** The level-table layout of a {@link ScaledLevels} format, made on first use (it reads the format's tables). */
    private volatile InterleavedLayout levelTableLayout;

    GgmlBlockFormat(GgmlType type) {
        this(type, null);
    }

    /** A format whose single-token decode runs on the given interleaved layout. */
    GgmlBlockFormat(GgmlType type, InterleavedLayout interleavedLayout) {
        this.type = type;
        this.interleavedLayout = interleavedLayout;
    }

    @Override
    public final InterleavedLayout interleavedLayout() {
        if (interleavedLayout != null || !(this instanceof ScaledLevels levels)) {
            return interleavedLayout;
        }
        InterleavedLayout layout = levelTableLayout;
        if (layout == null) {
            layout = new ScaledLevelsInterleaved(levels, bytesPerBlock());
            levelTableLayout = layout;
        }
        return layout;
    }

    final GgmlType type() {
        return type;
    }

    @Override
    public final String name() {
        return type.name();
    }

    @Override
    public final int ggmlType() {
        return type.id();
    }

    @Override
    public final int blockSize() {
        return type.blockSize();
    }

    @Override
    public final int bytesPerBlock() {
        return type.bytesPerBlock();
    }

    /** The number of blocks in n weights; n must be a whole number of blocks. */
    final int blocks(int n) {
        if (n < 0 || n % type.blockSize() != 0) {
            throw new IllegalArgumentException(type + " rows hold a multiple of " + type.blockSize()
                    + " weights, not " + n);
        }
        return n / type.blockSize();
    }

    @Override
    public String toString() {
        return name();
    }
}
