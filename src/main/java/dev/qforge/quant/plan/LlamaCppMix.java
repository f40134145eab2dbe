package dev.qforge.quant.plan;

import dev.qforge.QforgeException;
import dev.qforge.kernel.blocks.GgmlType;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which block type each tensor of a model gets in one of llama.cpp's quantization mixes: the rules of
 * llama-quantize (llama.cpp b4748, the build the reference files come from) — output and tied embeddings
 * get Q6_K, attn_v and ffn_down get more bits in the first, last and every third layer of the _M mixes,
 * Q2_K/Q3_K mixes raise attention output and values, and so on — then the user's overrides, then
 * llama.cpp's fallbacks for rows that are not a whole number of blocks (Q4_K → Q5_0, Q6_K → Q8_0, Q2_K/Q3_K/IQ4_XS
 * → IQ4_NL, Q5_K → Q5_1, and F16 when even 32 does not divide the row).
 *
 * <p>The rules count attn_v and ffn_down tensors as they are met, so tensors must be planned in
 * llama.cpp's order, {@link #LLAMA_CPP_ORDER}; {@link #plan} sorts them so.
 */
public final class LlamaCppMix {
    /** The hyper-parameters the rules look at. {@code arch} is the GGUF architecture name. */
    public record Hparams(String arch, int layers, int heads, int kvHeads, int experts) {
        int gqa() {
            return kvHeads == 0 ? 1 : heads / kvHeads;
        }
    }

    /** A tensor to place: GGUF name and dims in ggml order (ne[0] is the row length). */
    public record TensorShape(String name, long[] ne) {
    }

    /**
     * The decision for one tensor: its type, whether it is quantized at all (norms and 1-D tensors stay F32),
     * and, when llama.cpp's fallback replaced the type the rules chose, that type (else null).
     */
    public record Choice(String name, long[] ne, GgmlType type, boolean quantized, GgmlType fallbackFrom, boolean overridden) {
    }

    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");

    /** llama.cpp's loader order: tensors outside layers first, then by layer number; by name within each. */
    public static final Comparator<String> LLAMA_CPP_ORDER = Comparator.comparingInt(LlamaCppMix::layerOf)
            .thenComparing(LlamaCppMix::compareBytes);

    private final LlamaFileType ftype;
    private final Hparams hp;
    private final boolean hasImatrix;
    private final List<TensorTypeOverride> overrides;

    private int nAttentionWv;
    private int iAttentionWv;
    private int iFfnDown;
    private int iFfnGate;
    private int iFfnUp;
    private boolean hasOutput;

    public LlamaCppMix(LlamaFileType ftype, Hparams hp, boolean hasImatrix, List<TensorTypeOverride> overrides) {
        this.ftype = ftype;
        this.hp = hp;
        this.hasImatrix = hasImatrix;
        this.overrides = List.copyOf(overrides);
    }

    /** The layer of a GGUF tensor name ("blk.N."), or -1. */
    public static int layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static int compareBytes(String a, String b) {
        byte[] x = a.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] y = b.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return java.util.Arrays.compareUnsigned(x, y);
    }

    /** The choice for every tensor, in llama.cpp's order (the order llama-quantize writes them in). */
    public List<Choice> plan(List<TensorShape> tensors) {
        List<TensorShape> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparing(TensorShape::name, LLAMA_CPP_ORDER));
        nAttentionWv = 0;
        iAttentionWv = 0;
        iFfnDown = 0;
        iFfnGate = 0;
        iFfnUp = 0;
        hasOutput = false;
        for (TensorShape t : sorted) {
            if (t.name().contains("attn_v.weight") || t.name().contains("attn_qkv.weight") || t.name().contains("attn_kv_b.weight")) {
                nAttentionWv++;
            }
            if (t.name().equals("output.weight")) {
                hasOutput = true;
            }
        }
        List<Choice> out = new ArrayList<>();
        for (TensorShape t : sorted) {
            out.add(choose(t));
        }
        return out;
    }

    /** Whether llama-quantize quantizes this tensor at all (2-D+ weights other than norms and routers). */
    public static boolean quantizable(String name, long[] ne) {
        int dims = 0;
        for (int i = 0; i < ne.length; i++) {
            if (ne[i] > 1) {
                dims = i + 1;
            }
        }
        return dims >= 2 && name.endsWith("weight") && !name.contains("_norm.weight")
                && !name.contains("ffn_gate_inp.weight") && !name.equals("rope_freqs.weight");
    }

    private Choice choose(TensorShape t) {
        String name = t.name();
        if (!quantizable(name, t.ne())) {
            return new Choice(name, t.ne(), GgmlType.F32, false, null, false);
        }
        GgmlType type = ftype.baseType();
        if (!ftype.isQuantized()) {
            return new Choice(name, t.ne(), type, true, null, false);
        }
        boolean manual = false;
        for (TensorTypeOverride o : overrides) {
            if (o.matches(name)) {
                type = o.type();
                manual = true;
                break;
            }
        }
        if (!manual) {
            type = rules(name, t.ne(), type);
        } else {
            countOnly(name);
        }
        GgmlType chosen = type;
        type = fallback(name, t.ne()[0], type);
        return new Choice(name, t.ne(), type, true, type == chosen ? null : chosen, manual);
    }

    /** Keeps the layer counters right for a tensor an override decided. */
    private void countOnly(String name) {
        if (name.contains("attn_v.weight") || name.contains("attn_qkv.weight") || name.contains("attn_kv_b.weight")) {
            iAttentionWv++;
        } else if (name.contains("ffn_down")) {
            iFfnDown++;
        } else if (name.contains("ffn_gate")) {
            iFfnGate++;
        } else if (name.contains("ffn_up")) {
            iFfnUp++;
        }
    }

    private static boolean useMoreBits(int i, int n) {
        return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
    }

    private boolean is(LlamaFileType... types) {
        for (LlamaFileType t : types) {
            if (ftype == t) {
                return true;
            }
        }
        return false;
    }

    private GgmlType rules(String name, long[] ne, GgmlType type) {
        long nx = ne[0];
        boolean is70b = hp.layers() == 80 && (hp.arch().equals("llama") || hp.arch().equals("qwen2"));
        if (name.equals("output.weight") || (!hasOutput && name.equals("token_embd.weight"))) {
            if (nx % type.blockSize() != 0) {
                return GgmlType.Q8_0;
            }
            if (is(LlamaFileType.IQ2_XXS, LlamaFileType.IQ2_XS, LlamaFileType.IQ3_XXS, LlamaFileType.IQ1_S, LlamaFileType.IQ2_S,
                    LlamaFileType.IQ2_M, LlamaFileType.IQ1_M)) {
                return GgmlType.Q5_K;
            }
            return type == GgmlType.Q8_0 ? type : GgmlType.Q6_K;
        }
        if (name.equals("token_embd.weight")) {
            if (is(LlamaFileType.IQ2_XXS, LlamaFileType.IQ2_XS, LlamaFileType.IQ1_S, LlamaFileType.IQ1_M)) {
                return GgmlType.Q2_K;
            }
            if (is(LlamaFileType.IQ2_S, LlamaFileType.IQ2_M, LlamaFileType.IQ3_XXS)) {
                return GgmlType.IQ3_S;
            }
            return is(LlamaFileType.TQ1_0, LlamaFileType.TQ2_0) ? GgmlType.Q4_K : type;
        }
        if (is(LlamaFileType.IQ2_XXS, LlamaFileType.IQ2_XS, LlamaFileType.IQ1_S, LlamaFileType.IQ2_S, LlamaFileType.IQ2_M,
                LlamaFileType.IQ1_M)) {
            return latticeRules(name, type);
        }
        if (name.contains("attn_v.weight") || name.contains("attn_qkv.weight") || name.contains("attn_kv_b.weight")) {
            if (ftype == LlamaFileType.Q2_K) {
                type = hp.gqa() >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
            } else if (ftype == LlamaFileType.Q2_K_S && hp.gqa() >= 4) {
                type = GgmlType.Q4_K;
            } else if (ftype == LlamaFileType.IQ3_XXS) {
                type = hp.gqa() >= 4 ? GgmlType.Q4_K : !hasImatrix ? GgmlType.IQ3_S : GgmlType.IQ3_XXS;
            } else if (is(LlamaFileType.IQ3_XS, LlamaFileType.IQ3_S) && hp.gqa() >= 4) {
                type = GgmlType.Q4_K;
            } else if (ftype == LlamaFileType.IQ3_M) {
                type = GgmlType.Q4_K;
            } else if (ftype == LlamaFileType.Q3_K_M) {
                type = iAttentionWv < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
            } else if (ftype == LlamaFileType.Q3_K_L) {
                type = GgmlType.Q5_K;
            } else if (is(LlamaFileType.IQ4_NL, LlamaFileType.IQ4_XS) && hp.gqa() >= 4) {
                type = GgmlType.Q5_K;
            } else if (is(LlamaFileType.Q4_K_M, LlamaFileType.Q5_K_M) && useMoreBits(iAttentionWv, nAttentionWv)) {
                type = GgmlType.Q6_K;
            } else if (ftype == LlamaFileType.Q4_K_S && iAttentionWv < 4) {
                type = GgmlType.Q5_K;
            }
            if (is70b && (type == GgmlType.Q3_K || type == GgmlType.Q4_K)) {
                type = GgmlType.Q5_K;
            }
            if (hp.experts() == 8) {
                type = GgmlType.Q8_0;
            }
            iAttentionWv++;
            return type;
        }
        if (name.contains("attn_k.weight")) {
            return hp.experts() == 8 ? GgmlType.Q8_0 : ftype == LlamaFileType.IQ3_XS ? GgmlType.IQ3_XXS
                    : ftype == LlamaFileType.IQ3_XXS ? GgmlType.IQ2_S : type;
        }
        if (name.contains("attn_q.weight")) {
            return ftype == LlamaFileType.IQ3_XS ? GgmlType.IQ3_XXS : ftype == LlamaFileType.IQ3_XXS ? GgmlType.IQ2_S : type;
        }
        if (name.contains("ffn_down")) {
            int i = iFfnDown;
            int n = hp.layers();
            if (hp.experts() > 1) {
                i = layerOf(name);
            }
            if (ftype == LlamaFileType.Q2_K) {
                type = GgmlType.Q3_K;
            } else if (ftype == LlamaFileType.Q2_K_S) {
                if (i < n / 8) {
                    type = GgmlType.Q4_K;
                }
            } else if (ftype == LlamaFileType.IQ3_XXS && !hasImatrix) {
                type = i < n / 8 ? GgmlType.Q4_K : GgmlType.Q3_K;
            } else if (ftype == LlamaFileType.Q3_K_M) {
                type = i < n / 16 ? GgmlType.Q5_K : GgmlType.Q4_K; // llama.cpp: Q3_K only for Falcon's middle layers
            } else if (ftype == LlamaFileType.IQ3_M && (i < n / 8 || hp.experts() == 8 && useMoreBits(i, n))) {
                type = GgmlType.Q4_K;
            } else if (ftype == LlamaFileType.Q3_K_L) {
                type = GgmlType.Q5_K;
            } else if (ftype == LlamaFileType.Q4_K_M) {
                if (useMoreBits(i, n)) {
                    type = GgmlType.Q6_K;
                }
            } else if (i < n / 8 && is(LlamaFileType.IQ4_NL, LlamaFileType.IQ4_XS) && !hasImatrix) {
                type = GgmlType.Q5_K;
            } else if (ftype == LlamaFileType.Q5_K_M && useMoreBits(i, n)) {
                type = GgmlType.Q6_K;
            } else if (ftype == LlamaFileType.Q4_K_S && i < n / 8) {
                type = GgmlType.Q5_K;
            } else if (is(LlamaFileType.Q4_0, LlamaFileType.Q5_0) && hasImatrix && i < n / 8) {
                type = ftype == LlamaFileType.Q4_0 ? GgmlType.Q4_1 : GgmlType.Q5_1;
            }
            iFfnDown++;
            return type;
        }
        if (name.contains("attn_output.weight")) {
            if (hp.experts() == 8) {
                if (is(LlamaFileType.Q2_K, LlamaFileType.IQ3_XS, LlamaFileType.IQ3_XXS, LlamaFileType.Q3_K_S, LlamaFileType.Q3_K_M, LlamaFileType.IQ4_NL,
                        LlamaFileType.Q4_K_S, LlamaFileType.Q4_K_M, LlamaFileType.IQ3_S, LlamaFileType.IQ3_M, LlamaFileType.IQ4_XS)) {
                    type = GgmlType.Q5_K;
                }
            } else if (ftype == LlamaFileType.Q2_K) {
                type = GgmlType.Q3_K;
            } else if (ftype == LlamaFileType.IQ3_XXS) {
                type = GgmlType.IQ3_S;
            } else if (ftype == LlamaFileType.Q3_K_M) {
                type = GgmlType.Q4_K;
            } else if (ftype == LlamaFileType.Q3_K_L) {
                type = GgmlType.Q5_K;
            } else if (ftype == LlamaFileType.IQ3_M) {
                type = GgmlType.Q4_K;
            }
            return type;
        }
        if (name.contains("ffn_gate") || name.contains("ffn_up")) {
            boolean gate = name.contains("ffn_gate");
            int i = gate ? iFfnGate++ : iFfnUp++;
            int n = hp.layers();
            if (hp.experts() > 1) {
                i = layerOf(name);
            }
            return ftype == LlamaFileType.IQ3_XS && i >= n / 8 && i < 7 * n / 8 ? GgmlType.IQ3_XXS : type;
        }
        if (name.contains("attn_qkv.weight")) {
            if (is(LlamaFileType.Q3_K_M, LlamaFileType.Q3_K_L, LlamaFileType.IQ3_M)) {
                type = GgmlType.Q4_K;
            } else if (ftype == LlamaFileType.Q4_K_M) {
                type = GgmlType.Q5_K;
            } else if (ftype == LlamaFileType.Q5_K_M) {
                type = GgmlType.Q6_K;
            }
        }
        return type;
    }

    /**
     * llama.cpp's rules for its 1- and 2-bit lattice mixes (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M): values get
     * Q4_K where heads are shared by 4 or more, else Q2_K (IQ3_S in the _S/_M mixes), as does the first eighth of the
     * ffn_down tensors; attention outputs get IQ2_XXS in the IQ1 mixes and IQ3_S in the _S/_M ones.
     */
    private GgmlType latticeRules(String name, GgmlType type) {
        // the _S and _M mixes raise to IQ3_S where the others raise to Q2_K
        GgmlType more = is(LlamaFileType.IQ2_S, LlamaFileType.IQ2_M) ? GgmlType.IQ3_S : GgmlType.Q2_K;
        if (name.contains("attn_v.weight")) {
            iAttentionWv++;
            return hp.gqa() >= 4 || hp.experts() >= 4 ? GgmlType.Q4_K : more;
        }
        if (hp.experts() == 8 && name.contains("attn_k.weight")) {
            return GgmlType.Q4_K;
        }
        if (name.contains("ffn_down")) {
            GgmlType t = iFfnDown < hp.layers() / 8 ? more : type;
            iFfnDown++;
            return t;
        }
        if (name.contains("attn_output.weight")) {
            if (hp.experts() == 8) {
                return GgmlType.Q5_K;
            }
            return is(LlamaFileType.IQ1_S, LlamaFileType.IQ1_M) ? GgmlType.IQ2_XXS
                    : is(LlamaFileType.IQ2_S, LlamaFileType.IQ2_M) ? GgmlType.IQ3_S : type;
        }
        return type;
    }

    /** llama.cpp b4748's replacement when a row of {@code nx} is not a whole number of blocks. */
    static GgmlType fallback(String name, long nx, GgmlType type) {
        if (nx % type.blockSize() == 0) {
            return type;
        }
        GgmlType f = switch (type) {
            case Q2_K, Q3_K, IQ4_XS, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M -> GgmlType.IQ4_NL;
            case TQ1_0, TQ2_0 -> GgmlType.Q4_0;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> throw new QforgeException(name + ": rows of " + nx + " weights cannot be stored as " + type
                    + " (blocks of " + type.blockSize() + ") and llama.cpp defines no fallback for it");
        };
        return nx % f.blockSize() == 0 ? f : GgmlType.F16;
    }
}
