package dev.qforge.quant.plan;

import dev.qforge.QforgeException;
import dev.qforge.SharedData;
import dev.qforge.kernel.blocks.GgmlType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** llama-quantize's per-tensor rules, order and fallbacks. */
class LlamaCppMixTest {
    /** The tensors of a Llama of {@code layers} layers, hidden {@code d}, ffn {@code f}, in checkpoint order. */
    static List<LlamaCppMix.TensorShape> llama(int layers, long d, long f, long kv, boolean tied) {
        List<LlamaCppMix.TensorShape> t = new ArrayList<>();
        t.add(new LlamaCppMix.TensorShape("token_embd.weight", new long[]{d, 4096}));
        for (int i = 0; i < layers; i++) {
            String p = "blk." + i + ".";
            t.add(new LlamaCppMix.TensorShape(p + "attn_norm.weight", new long[]{d}));
            t.add(new LlamaCppMix.TensorShape(p + "attn_q.weight", new long[]{d, d}));
            t.add(new LlamaCppMix.TensorShape(p + "attn_k.weight", new long[]{d, kv}));
            t.add(new LlamaCppMix.TensorShape(p + "attn_v.weight", new long[]{d, kv}));
            t.add(new LlamaCppMix.TensorShape(p + "attn_output.weight", new long[]{d, d}));
            t.add(new LlamaCppMix.TensorShape(p + "ffn_norm.weight", new long[]{d}));
            t.add(new LlamaCppMix.TensorShape(p + "ffn_gate.weight", new long[]{d, f}));
            t.add(new LlamaCppMix.TensorShape(p + "ffn_up.weight", new long[]{d, f}));
            t.add(new LlamaCppMix.TensorShape(p + "ffn_down.weight", new long[]{f, d}));
        }
        t.add(new LlamaCppMix.TensorShape("output_norm.weight", new long[]{d}));
        if (!tied) {
            t.add(new LlamaCppMix.TensorShape("output.weight", new long[]{d, 4096}));
        }
        return t;
    }

    static Map<String, GgmlType> plan(LlamaFileType type, int layers, int heads, int kvHeads, boolean imatrix,
                                      List<LlamaCppMix.TensorShape> tensors, TensorTypeOverride... overrides) {
        Map<String, GgmlType> m = new LinkedHashMap<>();
        for (LlamaCppMix.Choice c : new LlamaCppMix(type, new LlamaCppMix.Hparams("llama", layers, heads, kvHeads, 0), imatrix,
                List.of(overrides)).plan(tensors)) {
            m.put(c.name(), c.type());
        }
        return m;
    }

    @Test
    void tinyLlamaQ4_K_MIsLlamaCpps() throws IOException {
        Path listing = SharedData.require("reference/qforge-tiny-llama/gguf-tensors-Q4_K_M.txt");
        Pattern line = Pattern.compile("^\\s*\\d+:\\s+\\d+ \\|[\\s\\d,]+\\| (\\w+)\\s+\\| (\\S+)$");
        Map<String, String> expected = new LinkedHashMap<>();
        for (String l : Files.readAllLines(listing)) {
            Matcher m = line.matcher(l);
            if (m.matches()) {
                expected.put(m.group(2), m.group(1));
            }
        }
        assertEquals(75, expected.size());
        Map<String, String> ours = new LinkedHashMap<>();
        plan(LlamaFileType.Q4_K_M, 8, 8, 4, false, llama(8, 256, 768, 128, false)).forEach((k, v) -> ours.put(k, v.name()));
        assertEquals(new ArrayList<>(expected.entrySet()), new ArrayList<>(ours.entrySet()), "names, order and types");
    }

    @Test
    void useMoreBitsLayersOfA32LayerModel() {
        Map<String, GgmlType> p = plan(LlamaFileType.Q4_K_M, 32, 32, 8, false, llama(32, 4096, 14336, 1024, false));
        List<Integer> q6 = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            GgmlType v = p.get("blk." + i + ".attn_v.weight");
            assertEquals(v, p.get("blk." + i + ".ffn_down.weight"), "layer " + i);
            if (v == GgmlType.Q6_K) {
                q6.add(i);
            }
        }
        // first and last eighth, and every third layer in between: llama.cpp's use_more_bits
        assertEquals(List.of(0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31), q6);
        assertEquals(GgmlType.Q6_K, p.get("output.weight"));
        assertEquals(GgmlType.Q4_K, p.get("token_embd.weight"));
        assertEquals(GgmlType.F32, p.get("blk.0.attn_norm.weight"));
        // tensors come in llama.cpp's loader order: layer number, not text (blk.2 before blk.10)
        List<String> names = new ArrayList<>(p.keySet());
        assertTrue(names.indexOf("blk.2.attn_k.weight") < names.indexOf("blk.10.attn_k.weight"));
        assertEquals("output.weight", names.getFirst());
    }

    @Test
    void otherMixes() {
        List<LlamaCppMix.TensorShape> t = llama(8, 256, 768, 128, false);
        Map<String, GgmlType> q2 = plan(LlamaFileType.Q2_K, 8, 8, 4, false, t);
        assertEquals(GgmlType.Q3_K, q2.get("blk.3.attn_v.weight")); // gqa 2 < 4
        assertEquals(GgmlType.Q3_K, q2.get("blk.3.ffn_down.weight"));
        assertEquals(GgmlType.Q3_K, q2.get("blk.3.attn_output.weight"));
        assertEquals(GgmlType.Q2_K, q2.get("blk.3.attn_q.weight"));
        assertEquals(GgmlType.Q4_K, plan(LlamaFileType.Q2_K, 8, 32, 8, false, t).get("blk.3.attn_v.weight")); // gqa 4
        Map<String, GgmlType> q3m = plan(LlamaFileType.Q3_K_M, 8, 8, 4, false, t);
        assertEquals(GgmlType.Q5_K, q3m.get("blk.1.attn_v.weight"));
        assertEquals(GgmlType.Q4_K, q3m.get("blk.2.attn_v.weight"));
        assertEquals(GgmlType.Q4_K, q3m.get("blk.2.attn_output.weight"));
        Map<String, GgmlType> q4s = plan(LlamaFileType.Q4_K_S, 8, 8, 4, false, t);
        assertEquals(GgmlType.Q5_K, q4s.get("blk.3.attn_v.weight"));
        assertEquals(GgmlType.Q4_K, q4s.get("blk.4.attn_v.weight"));
        assertEquals(GgmlType.Q5_K, q4s.get("blk.0.ffn_down.weight"));
        Map<String, GgmlType> q40 = plan(LlamaFileType.Q4_0, 8, 8, 4, true, t);
        assertEquals(GgmlType.Q4_1, q40.get("blk.0.ffn_down.weight")); // with an imatrix
        assertEquals(GgmlType.Q4_0, q40.get("blk.1.ffn_down.weight"));
        assertEquals(GgmlType.Q6_K, q40.get("output.weight"));
        assertEquals(GgmlType.Q8_0, plan(LlamaFileType.Q8_0, 8, 8, 4, false, t).get("output.weight"));
        Map<String, GgmlType> iq4 = plan(LlamaFileType.IQ4_XS, 8, 8, 4, false, t);
        assertEquals(GgmlType.Q5_K, iq4.get("blk.0.ffn_down.weight")); // no imatrix
        assertEquals(GgmlType.IQ4_XS, plan(LlamaFileType.IQ4_XS, 8, 8, 4, true, t).get("blk.0.ffn_down.weight"));
        Map<String, GgmlType> f16 = plan(LlamaFileType.F16, 8, 8, 4, false, t);
        assertEquals(GgmlType.F16, f16.get("output.weight"));
        assertEquals(GgmlType.F32, f16.get("output_norm.weight"));
        // tied: the embedding is the output
        assertEquals(GgmlType.Q6_K, plan(LlamaFileType.Q4_K_M, 8, 8, 4, false, llama(8, 256, 768, 128, true)).get("token_embd.weight"));
    }

    @Test
    void overridesWinFirstMatchAndStillFallBack() {
        List<LlamaCppMix.TensorShape> t = llama(8, 256, 768, 128, false);
        Map<String, GgmlType> p = plan(LlamaFileType.Q4_K_M, 8, 8, 4, false, t,
                TensorTypeOverride.parse("blk\\.[0-3]\\.attn_v=Q8_0"), TensorTypeOverride.parse("attn_v=IQ4_NL"),
                TensorTypeOverride.parse("ffn_down=Q5_K"));
        assertEquals(GgmlType.Q8_0, p.get("blk.0.attn_v.weight"));
        assertEquals(GgmlType.IQ4_NL, p.get("blk.7.attn_v.weight"));
        assertEquals(GgmlType.Q5_K, p.get("blk.7.ffn_down.weight"));
        assertEquals(GgmlType.Q4_K, p.get("blk.7.ffn_up.weight"));
        // rows of 768 hold Q5_K; a model whose rows are 172 falls back to Q5_1's 32 … and then F16
        Map<String, GgmlType> small = plan(LlamaFileType.Q4_K_M, 8, 8, 4, false, llama(8, 64, 172, 32, false),
                TensorTypeOverride.parse("ffn_down=Q5_K"));
        assertEquals(GgmlType.F16, small.get("blk.0.ffn_down.weight"));
        assertEquals(GgmlType.Q5_0, small.get("blk.0.ffn_up.weight"));
    }

    @Test
    void fallbacks() {
        assertEquals(GgmlType.Q4_K, LlamaCppMix.fallback("x", 256, GgmlType.Q4_K));
        assertEquals(GgmlType.Q5_0, LlamaCppMix.fallback("x", 64, GgmlType.Q4_K));
        assertEquals(GgmlType.Q8_0, LlamaCppMix.fallback("x", 64, GgmlType.Q6_K));
        assertEquals(GgmlType.IQ4_NL, LlamaCppMix.fallback("x", 64, GgmlType.Q2_K));
        assertEquals(GgmlType.Q5_1, LlamaCppMix.fallback("x", 96, GgmlType.Q5_K));
        assertEquals(GgmlType.F16, LlamaCppMix.fallback("x", 172, GgmlType.Q4_K));
        QforgeException e = assertThrows(QforgeException.class, () -> LlamaCppMix.fallback("blk.0.ffn_down.weight", 172, GgmlType.Q8_0));
        assertTrue(e.getMessage().startsWith("blk.0.ffn_down.weight: rows of 172"), e.getMessage());
    }

    @Test
    void typeNames() {
        assertEquals(LlamaFileType.Q4_K_M, LlamaFileType.parse("q4_k_m"));
        assertEquals(LlamaFileType.Q4_K_M, LlamaFileType.parse("Q4_K"));
        assertEquals(15, LlamaFileType.Q4_K_M.id());
        assertEquals(30, LlamaFileType.IQ4_XS.id());
        QforgeException e = assertThrows(QforgeException.class, () -> LlamaFileType.parse("Q3"));
        assertTrue(e.getMessage().contains("known: F32, F16"), e.getMessage());
        assertEquals(-1, LlamaCppMix.layerOf("output.weight"));
        assertEquals(12, LlamaCppMix.layerOf("blk.12.ffn_up.weight"));
        assertEquals(36, LlamaFileType.parse("tq1_0").id());
        assertEquals(GgmlType.IQ1_S, TensorTypeOverride.parse("attn_v=IQ1_S").type(), "every lattice type is written");
    }
}
