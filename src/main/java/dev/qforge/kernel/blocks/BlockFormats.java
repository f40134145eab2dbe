package dev.qforge.kernel.blocks;

import dev.qforge.QforgeException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The table of every block format qforge knows: adding a format is one {@link #register} line here. */
public final class BlockFormats {
    private static final Map<String, BlockFormat> BY_NAME = new LinkedHashMap<>();
    private static final Map<Integer, BlockFormat> BY_GGML_TYPE = new LinkedHashMap<>();

    static {
        // Formats register here, one line each.
        register(new F32Format());
        register(new F16Format());
        register(new BF16Format());
        register(new Q4_0Format());
        register(new Q4_1Format());
        register(new Q5_0Format());
        register(new Q5_1Format());
        register(new Q8_0Format());
        register(new IQ4NLFormat());
        register(new IQ4XSFormat());
        register(new Q2KFormat());
        register(new Q3KFormat());
        register(new Q4KFormat());
        register(new Q5KFormat());
        register(new Q6KFormat());
        register(new Q8KFormat());
        register(new TQ1_0Format());
        register(new TQ2_0Format());
        register(new MXFP4Format());
        register(new IQ1SFormat());
        register(new IQ1MFormat());
        register(new IQ2XXSFormat());
        register(new IQ2XSFormat());
        register(new IQ2SFormat());
        register(new IQ3XXSFormat());
        register(new IQ3SFormat());
    }

    private BlockFormats() {
    }

    static void register(BlockFormat f) {
        if (BY_NAME.put(f.name().toUpperCase(Locale.ROOT), f) != null || BY_GGML_TYPE.put(f.ggmlType(), f) != null) {
            throw new IllegalStateException("block format registered twice: " + f.name());
        }
    }

    /** The format of this ggml name (case-insensitive), or a QforgeException listing the known ones. */
    public static BlockFormat byName(String name) {
        BlockFormat f = BY_NAME.get(name.toUpperCase(Locale.ROOT));
        if (f == null) {
            throw new QforgeException("unknown block format '" + name + "'; known: " + String.join(", ", BY_NAME.keySet()));
        }
        return f;
    }

    /** The format of a ggml type id, or null when qforge does not know it. */
    public static BlockFormat byGgmlType(int type) {
        return BY_GGML_TYPE.get(type);
    }

    /**
     * A format of the table or a plain integer one ({@link IntGroupFormat}: {@code INT4_G128}, {@code INT8_CH}, …,
     * which no GGUF file holds), for rows of {@code rowWidth} weights; a QforgeException listing both when unknown.
     */
    public static BlockFormat anyByName(String name, int rowWidth) {
        IntGroupFormat plain = IntGroupFormat.parse(name, rowWidth);
        if (plain != null) {
            return plain;
        }
        try {
            return byName(name);
        } catch (QforgeException e) {
            throw new QforgeException(e.getMessage() + "; or a plain integer format INT{2,3,4,8}_G{32,64,128,…}[_SYM] or INT{2,3,4,8}_CH[_SYM]");
        }
    }

    public static List<BlockFormat> all() {
        return Collections.unmodifiableList(new ArrayList<>(BY_NAME.values()));
    }
}
