package dev.qforge.quant.plan;

import dev.qforge.QforgeException;
import dev.qforge.kernel.blocks.GgmlType;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The quantization mixes of llama.cpp's {@code llama-quantize} that qforge can produce: each has
 * llama.cpp's {@code llama_ftype} id (stored as {@code general.file_type}) and the block type most
 * tensors get; {@link LlamaCppMix} decides the exceptions tensor by tensor.
 */
public enum LlamaFileType {
    F32(0, GgmlType.F32),
    F16(1, GgmlType.F16),
    BF16(32, GgmlType.BF16),
    Q4_0(2, GgmlType.Q4_0),
    Q4_1(3, GgmlType.Q4_1),
    Q5_0(8, GgmlType.Q5_0),
    Q5_1(9, GgmlType.Q5_1),
    Q8_0(7, GgmlType.Q8_0),
    Q2_K(10, GgmlType.Q2_K),
    Q2_K_S(21, GgmlType.Q2_K),
    Q3_K_S(11, GgmlType.Q3_K),
    Q3_K_M(12, GgmlType.Q3_K),
    Q3_K_L(13, GgmlType.Q3_K),
    Q4_K_S(14, GgmlType.Q4_K),
    Q4_K_M(15, GgmlType.Q4_K),
    Q5_K_S(16, GgmlType.Q5_K),
    Q5_K_M(17, GgmlType.Q5_K),
    Q6_K(18, GgmlType.Q6_K),
    IQ4_NL(25, GgmlType.IQ4_NL),
    IQ4_XS(30, GgmlType.IQ4_XS),
    IQ1_S(24, GgmlType.IQ1_S),
    IQ1_M(31, GgmlType.IQ1_M),
    IQ2_XXS(19, GgmlType.IQ2_XXS),
    IQ2_XS(20, GgmlType.IQ2_XS),
    IQ2_S(28, GgmlType.IQ2_XS),
    IQ2_M(29, GgmlType.IQ2_S),
    IQ3_XXS(23, GgmlType.IQ3_XXS),
    IQ3_XS(22, GgmlType.IQ3_S),
    IQ3_S(26, GgmlType.IQ3_S),
    IQ3_M(27, GgmlType.IQ3_S),
    TQ1_0(36, GgmlType.TQ1_0),
    TQ2_0(37, GgmlType.TQ2_0);

    private final int id;
    private final GgmlType baseType;

    LlamaFileType(int id, GgmlType baseType) {
        this.id = id;
        this.baseType = baseType;
    }

    /** llama.cpp's {@code llama_ftype} value, written as {@code general.file_type}. */
    public int id() {
        return id;
    }

    /** The block type of the mix's ordinary tensors. */
    public GgmlType baseType() {
        return baseType;
    }

    /** Whether the base type is a quantized block format (so llama.cpp's per-tensor rules apply). */
    public boolean isQuantized() {
        return this != F32 && this != F16 && this != BF16;
    }

    /** The mix named {@code name} (case-insensitive; "Q4_K" means Q4_K_M and "Q3_K" Q3_K_M, as in llama-quantize). */
    public static LlamaFileType parse(String name) {
        String n = name.trim().toUpperCase(Locale.ROOT);
        if (n.equals("Q4_K")) {
            return Q4_K_M;
        }
        if (n.equals("Q5_K")) {
            return Q5_K_M;
        }
        if (n.equals("Q3_K")) {
            return Q3_K_M;
        }
        for (LlamaFileType t : values()) {
            if (t.name().equals(n)) {
                return t;
            }
        }
        throw new QforgeException("--type: unknown quantization type '" + name + "'; known: " + known());
    }

    public static String known() {
        return Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));
    }
}
