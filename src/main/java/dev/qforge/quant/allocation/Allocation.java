package dev.qforge.quant.allocation;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.format.GgufValue;
import dev.qforge.kernel.blocks.GgmlType;
import dev.qforge.quant.plan.LlamaFileType;
import dev.qforge.quant.plan.TensorTypeOverride;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A bit allocation's answer: each tensor's type, with what was measured to choose it — GPTQ's output error for
 * every candidate type, the KL divergence measured for some, and the cost the allocation expected of each — and
 * the whole file's size and expected KL divergence (the sum of the chosen tensors' costs, an additive model the
 * docs validate against llama.cpp's measurement of the written file).
 *
 * @param fixedBytes  the file's bytes that do not depend on the allocation: header, metadata, norms, padding of those
 * @param lowerBound  the Lagrangian relaxation's optimum: no allocation within the budget is expected to do better
 */
public record Allocation(List<TensorChoice> tensors, long targetBytes, long fileBytes, long fixedBytes, long weights,
                         double predictedKld, double lowerBound, String sensitivity, List<GgmlType> candidates) {

    /** One type a tensor could take: its bytes (aligned as in the file), GPTQ's loss, the cost used, whether measured. */
    public record TypeCost(GgmlType type, long bytes, double loss, double cost, boolean measured) {
    }

    /** A tensor: GGUF name, weights, the options, and the chosen type; {@code pinned} when a --tensor-type fixed it. */
    public record TensorChoice(String name, long weights, List<TypeCost> options, GgmlType chosen, boolean pinned) {
        public TypeCost chosenCost() {
            return options.stream().filter(o -> o.type() == chosen).findFirst().orElseThrow();
        }
    }

    /** Bits per weight of the whole file. */
    public double bitsPerWeight() {
        return 8.0 * fileBytes / weights;
    }

    /** The choices as exact-name overrides of the plan (llama-quantize's --tensor-type, one per tensor). */
    public List<TensorTypeOverride> overrides() {
        List<TensorTypeOverride> out = new ArrayList<>();
        for (TensorChoice t : tensors) {
            out.add(new TensorTypeOverride(Pattern.compile("^" + Pattern.quote(t.name()) + "$"), t.chosen()));
        }
        return out;
    }

    /**
     * The llama.cpp file type to record (general.file_type, a label to llama.cpp): the mix whose base type holds
     * the most weights, its _M variant where there are several.
     */
    public LlamaFileType fileType() {
        Map<GgmlType, Long> byType = new LinkedHashMap<>();
        for (TensorChoice t : tensors) {
            byType.merge(t.chosen(), t.weights(), Long::sum);
        }
        LlamaFileType best = LlamaFileType.Q8_0;
        long most = -1;
        for (Map.Entry<GgmlType, Long> e : byType.entrySet()) {
            LlamaFileType f = mixOf(e.getKey());
            if (f != null && e.getValue() > most) {
                most = e.getValue();
                best = f;
            }
        }
        return best;
    }

    private static LlamaFileType mixOf(GgmlType t) {
        LlamaFileType found = null;
        for (LlamaFileType f : LlamaFileType.values()) {
            if (f.isQuantized() && f.baseType() == t && (found == null || f.name().endsWith("_M"))) {
                found = f;
            }
        }
        return found;
    }

    /** What the file records of the allocation (fixed in size whatever the numbers, so the file's size is known first). */
    public static Map<String, GgufValue> metadata(long targetBytes, double predictedKld, String sensitivity, List<GgmlType> candidates) {
        Map<String, GgufValue> m = new LinkedHashMap<>();
        m.put("quantize.qforge.allocation.target_bytes", GgufValue.uint64(targetBytes));
        m.put("quantize.qforge.allocation.predicted_kld", GgufValue.float32((float) predictedKld));
        m.put("quantize.qforge.allocation.sensitivity", GgufValue.string(sensitivity));
        m.put("quantize.qforge.allocation.candidates", GgufValue.string(String.join(",", candidates.stream().map(Enum::name).toList())));
        return m;
    }

    public Map<String, GgufValue> metadata() {
        return metadata(targetBytes, predictedKld, sensitivity, candidates);
    }

    /** The table {@code --explain} prints: per tensor the chosen type and every candidate's expected cost. */
    public String explain() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "bit allocation: %,d bytes (%.3f bits per weight) of a %,d-byte budget; expected KLD %.6f (no allocation within the budget below %.6f)%n",
                fileBytes, bitsPerWeight(), targetBytes, predictedKld, lowerBound));
        b.append("sensitivity: ").append(sensitivity).append('\n');
        b.append(String.format(Locale.ROOT, "%-28s %-7s %10s %12s  %s%n", "tensor", "type", "bytes", "exp. KLD", "expected KLD by type (* measured, > chosen)"));
        for (TensorChoice t : tensors) {
            TypeCost c = t.chosenCost();
            StringBuilder opts = new StringBuilder();
            for (TypeCost o : t.options()) {
                opts.append(String.format(Locale.ROOT, "%s%s %.2e%s  ", o.type() == t.chosen() ? ">" : "", o.type(), o.cost(), o.measured() ? "*" : ""));
            }
            b.append(String.format(Locale.ROOT, "%-28s %-7s %,10d %12.3e  %s%s%n", t.name(), t.chosen(), c.bytes(), c.cost(),
                    t.pinned() ? "(pinned by --tensor-type) " : "", opts.toString().strip()));
        }
        Map<GgmlType, long[]> byType = new LinkedHashMap<>();
        for (TensorChoice t : tensors) {
            long[] v = byType.computeIfAbsent(t.chosen(), k -> new long[2]);
            v[0]++;
            v[1] += t.chosenCost().bytes();
        }
        b.append("by type:");
        byType.forEach((t, v) -> b.append(String.format(Locale.ROOT, " %s x%d (%,d bytes)", t, v[0], v[1])));
        b.append('\n');
        return b.toString();
    }

    /** Everything measured, for the report. */
    public ObjectNode toJson() {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode root = f.objectNode();
        root.put("target_bytes", targetBytes);
        root.put("file_bytes", fileBytes);
        root.put("fixed_bytes", fixedBytes);
        root.put("weights", weights);
        root.put("bits_per_weight", bitsPerWeight());
        root.put("predicted_kld", predictedKld);
        root.put("lower_bound", lowerBound);
        root.put("sensitivity", sensitivity);
        ArrayNode cands = root.putArray("candidates");
        candidates.forEach(c -> cands.add(c.name()));
        ArrayNode ts = root.putArray("tensors");
        for (TensorChoice t : tensors) {
            ObjectNode o = ts.addObject();
            o.put("name", t.name());
            o.put("weights", t.weights());
            o.put("chosen", t.chosen().name());
            o.put("pinned", t.pinned());
            ArrayNode opts = o.putArray("options");
            for (TypeCost c : t.options()) {
                ObjectNode x = opts.addObject();
                x.put("type", c.type().name());
                x.put("bytes", c.bytes());
                x.put("loss", c.loss());
                x.put("expected_kld", c.cost());
                x.put("measured", c.measured());
            }
        }
        return root;
    }
}
