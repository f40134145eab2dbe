package dev.qforge.quant.plan;

import dev.qforge.QforgeException;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.kernel.blocks.GgmlType;

import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A user's {@code --tensor-type PATTERN=TYPE}: every tensor whose GGUF name contains a match of the
 * regular expression gets TYPE instead of what the mix would choose (as llama-quantize's option: the first
 * matching override wins, and a row that TYPE cannot hold still falls back).
 */
public record TensorTypeOverride(Pattern pattern, GgmlType type) {

    /** Parses "PATTERN=TYPE" (the last '=' separates them; TYPE is a block format name such as Q6_K). */
    public static TensorTypeOverride parse(String option) {
        int eq = option.lastIndexOf('=');
        if (eq <= 0 || eq == option.length() - 1) {
            throw new QforgeException("--tensor-type '" + option + "': expected PATTERN=TYPE, e.g. attn_v=Q6_K");
        }
        String regex = option.substring(0, eq);
        String typeName = option.substring(eq + 1);
        Pattern p;
        try {
            p = Pattern.compile(regex);
        } catch (PatternSyntaxException e) {
            throw new QforgeException("--tensor-type '" + option + "': pattern does not compile: " + e.getDescription());
        }
        BlockFormat f;
        try {
            f = BlockFormats.byName(typeName);
        } catch (QforgeException e) {
            throw new QforgeException("--tensor-type '" + option + "': " + e.getMessage());
        }
        if (!f.canQuantize()) {
            throw new QforgeException("--tensor-type '" + option + "': qforge reads " + f.name() + " but cannot write it yet");
        }
        GgmlType type = GgmlType.byId(f.ggmlType());
        if (type == GgmlType.Q8_K) {
            throw new QforgeException("--tensor-type '" + option + "': Q8_K is an intermediate format, not a weight type");
        }
        return new TensorTypeOverride(p, type);
    }

    public boolean matches(String ggufName) {
        return pattern.matcher(ggufName).find();
    }

    @Override
    public String toString() {
        return pattern.pattern() + "=" + type;
    }
}
