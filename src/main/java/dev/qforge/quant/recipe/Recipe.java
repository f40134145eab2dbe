package dev.qforge.quant.recipe;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.qforge.QforgeException;
import dev.qforge.quant.CalibratedQuantization;
import dev.qforge.quant.QuantizeJob;
import dev.qforge.quant.awq.AwqSearch;
import dev.qforge.quant.gptq.GptqQuantizer;
import dev.qforge.quant.plan.LlamaCppMix;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A quantization job as data, in the spirit of llm-compressor's recipes: the llama.cpp mix, the calibration,
 * per-tensor type overrides, and a list of modifiers — a rotation, and methods with the tensors they apply to
 * ({@code targets}, {@code ignore}: GGUF tensor names, exact, with {@code *} wildcards, or {@code re:} regular
 * expressions). Each calibrated tensor takes the first method whose targets match it and whose ignore list
 * does not; a tensor no method claims is rounded to nearest with the calibration's importance. Read strictly:
 * an unknown key or method is an error naming the file.
 *
 * <pre>
 * type: Q4_K_M
 * calibration: {text: wiki.valid.raw, samples: 128, ctx: 512, seed: 0}
 * tensor_types: ["attn_v=Q6_K"]
 * modifiers:
 *   - rotation: {seed: 0}
 *   - awq: {grid: 20}
 *   - gptq: {targets: ["re:blk\\..*"], ignore: ["output.weight"], damp: 0.01, act_order: false}
 *   - rtn: {targets: ["output.weight"]}
 * </pre>
 */
public record Recipe(Path source, String type, Calibration calibration, List<String> tensorTypes, Rotation rotation,
                     AwqSearch.Settings awq, List<MethodStep> methods) {

    /** Calibration settings; null fields take the command line's or the defaults. */
    public record Calibration(Path text, Integer samples, Integer ctx, Long seed, Boolean fpInputs) {
    }

    /** A rotation of the model before calibration. */
    public record Rotation(long seed) {
    }

    /** A method and the tensors it applies to. */
    public record MethodStep(String method, List<String> targets, List<String> ignore, Double damp, Boolean actOrder) {
        /** Whether this step claims the GGUF tensor {@code name}. */
        public boolean claims(String name) {
            return matchesAny(targets, name) && !matchesAny(ignore, name);
        }
    }

    private static final Set<String> METHODS = Set.of("gptq", "rtn");

    /** Reads a recipe file. */
    public static Recipe read(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new QforgeException(file + ": no such file (--recipe)");
        } catch (IOException e) {
            String m = e.getMessage() == null ? e.toString() : e.getMessage().lines().findFirst().orElse("");
            throw new QforgeException(file + ": not a YAML recipe: " + m, e);
        }
        if (root == null || !root.isObject()) {
            throw new QforgeException(file + ": a recipe is a YAML mapping (type, calibration, tensor_types, modifiers)");
        }
        keys(file, "", root, Set.of("type", "calibration", "tensor_types", "modifiers"));
        String type = root.hasNonNull("type") ? text(file, "type", root.get("type")) : null;
        Calibration cal = null;
        JsonNode c = root.get("calibration");
        if (c != null && !c.isNull()) {
            keys(file, "calibration.", c, Set.of("text", "samples", "ctx", "seed", "fp_inputs"));
            Path dir = file.toAbsolutePath().getParent();
            cal = new Calibration(c.hasNonNull("text") ? dir.resolve(text(file, "calibration.text", c.get("text"))) : null,
                    c.hasNonNull("samples") ? integer(file, "calibration.samples", c.get("samples")) : null,
                    c.hasNonNull("ctx") ? integer(file, "calibration.ctx", c.get("ctx")) : null,
                    c.hasNonNull("seed") ? (long) integer(file, "calibration.seed", c.get("seed")) : null,
                    c.hasNonNull("fp_inputs") ? bool(file, "calibration.fp_inputs", c.get("fp_inputs")) : null);
        }
        List<String> tensorTypes = strings(file, "tensor_types", root.get("tensor_types"));
        Rotation rotation = null;
        AwqSearch.Settings awq = null;
        List<MethodStep> methods = new ArrayList<>();
        JsonNode mods = root.get("modifiers");
        if (mods != null && !mods.isNull()) {
            if (!mods.isArray()) {
                throw new QforgeException(file + ": modifiers must be a list of {method: settings}");
            }
            for (JsonNode m : mods) {
                if (!m.isObject() || m.size() != 1) {
                    throw new QforgeException(file + ": each modifier is one {method: settings} entry, not " + m);
                }
                Map.Entry<String, JsonNode> e = m.properties().iterator().next();
                String name = e.getKey().toLowerCase(Locale.ROOT);
                JsonNode s = e.getValue() == null || e.getValue().isNull()
                        ? com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode() : e.getValue();
                if (name.equals("rotation")) {
                    keys(file, "rotation.", s, Set.of("seed"));
                    if (rotation != null) {
                        throw new QforgeException(file + ": more than one rotation");
                    }
                    rotation = new Rotation(s.hasNonNull("seed") ? integer(file, "rotation.seed", s.get("seed")) : 0);
                } else if (name.equals("awq")) {
                    keys(file, "awq.", s, Set.of("grid"));
                    if (awq != null) {
                        throw new QforgeException(file + ": more than one awq");
                    }
                    int grid = s.hasNonNull("grid") ? integer(file, "awq.grid", s.get("grid")) : AwqSearch.Settings.DEFAULT.grid();
                    try {
                        awq = new AwqSearch.Settings(grid);
                    } catch (QforgeException bad) {
                        throw new QforgeException(file + ": " + bad.getMessage());
                    }
                } else if (METHODS.contains(name)) {
                    keys(file, name + ".", s, name.equals("gptq") ? Set.of("targets", "ignore", "damp", "act_order") : Set.of("targets", "ignore"));
                    List<String> targets = strings(file, name + ".targets", s.get("targets"));
                    if (targets.isEmpty()) {
                        targets = List.of("re:.*");
                    }
                    for (String t : targets) {
                        compile(file, t);
                    }
                    List<String> ignore = strings(file, name + ".ignore", s.get("ignore"));
                    for (String t : ignore) {
                        compile(file, t);
                    }
                    Double damp = s.hasNonNull("damp") ? s.get("damp").asDouble() : null;
                    Boolean actOrder = s.hasNonNull("act_order") ? bool(file, name + ".act_order", s.get("act_order")) : null;
                    methods.add(new MethodStep(name, targets, ignore, damp, actOrder));
                } else {
                    throw new QforgeException(file + ": unknown method '" + e.getKey() + "'; known: gptq, rtn, awq, rotation");
                }
            }
        }
        return new Recipe(file, type, cal, tensorTypes, rotation, awq, List.copyOf(methods));
    }

    /**
     * Checks every pattern against the tensors the job will quantize: one that matches none is a mistake
     * (a typo, another architecture's name) and an error before any work starts.
     */
    public void requireEveryPatternMatches(List<String> tensorNames) {
        for (MethodStep m : methods) {
            for (List<String> list : List.of(m.targets(), m.ignore())) {
                for (String p : list) {
                    if (tensorNames.stream().noneMatch(n -> matches(p, n))) {
                        throw new QforgeException(source + ": " + m.method() + " pattern '" + p + "' matches no tensor of this model"
                                + " (names are GGUF's, e.g. blk.0.attn_q.weight, output.weight)");
                    }
                }
            }
        }
    }

    /**
     * Each tensor's method as this recipe assigns it (unclaimed tensors: round to nearest with the calibration's
     * importance); {@code notes} hears how many tensors no method claims.
     */
    public CalibratedQuantization.MethodChoice methodChoice(List<LlamaCppMix.Choice> plan, GptqQuantizer.Settings defaults,
                                                            java.util.function.Consumer<String> notes) {
        long unclaimed = QuantizeJob.calibratedNames(plan).stream().filter(n -> methodFor(n) == null).count();
        if (unclaimed > 0) {
            notes.accept(String.format(Locale.ROOT, "note: %d tensors match no method of %s: rounded to nearest with the calibration's importance",
                    unclaimed, source));
        }
        return name -> {
            MethodStep step = methodFor(name);
            if (step == null || step.method().equals("rtn")) {
                return new CalibratedQuantization.Assignment(CalibratedQuantization.Method.RTN, defaults);
            }
            GptqQuantizer.Settings s = new GptqQuantizer.Settings(step.damp() == null ? defaults.dampFraction() : step.damp(),
                    defaults.dampRaises(), step.actOrder() == null ? defaults.actOrder() : step.actOrder());
            return new CalibratedQuantization.Assignment(CalibratedQuantization.Method.GPTQ, s);
        };
    }

    /** The methods' names, as a file's metadata records them: "gptq,rtn". */
    public String methodLabel() {
        return String.join(",", methods.stream().map(MethodStep::method).distinct().toList());
    }

    /** The method step that claims a tensor, or null. */
    public MethodStep methodFor(String ggufName) {
        for (MethodStep m : methods) {
            if (m.claims(ggufName)) {
                return m;
            }
        }
        return null;
    }

    static boolean matchesAny(List<String> patterns, String name) {
        for (String p : patterns) {
            if (matches(p, name)) {
                return true;
            }
        }
        return false;
    }

    static boolean matches(String pattern, String name) {
        if (pattern.startsWith("re:")) {
            return java.util.regex.Pattern.compile(pattern.substring(3)).matcher(name).matches();
        }
        if (pattern.contains("*")) {
            StringBuilder re = new StringBuilder();
            for (String part : pattern.split("\\*", -1)) {
                if (!re.isEmpty()) {
                    re.append(".*");
                }
                re.append(java.util.regex.Pattern.quote(part));
            }
            return name.matches(re.toString());
        }
        return pattern.equals(name);
    }

    private static void compile(Path file, String pattern) {
        if (pattern.startsWith("re:")) {
            try {
                java.util.regex.Pattern.compile(pattern.substring(3));
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new QforgeException(file + ": pattern '" + pattern + "' does not compile: " + e.getDescription());
            }
        }
    }

    private static void keys(Path file, String prefix, JsonNode node, Set<String> known) {
        if (!node.isObject()) {
            throw new QforgeException(file + ": " + (prefix.isEmpty() ? "the recipe" : prefix.substring(0, prefix.length() - 1))
                    + " must be a mapping, not " + node);
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k)) {
                throw new QforgeException(file + ": unknown key '" + prefix + k + "'; known: " + String.join(", ", known.stream().sorted().toList()));
            }
        }
    }

    private static String text(Path file, String key, JsonNode n) {
        if (!n.isTextual()) {
            throw new QforgeException(file + ": " + key + " must be text, not " + n);
        }
        return n.asText();
    }

    private static int integer(Path file, String key, JsonNode n) {
        if (!n.canConvertToInt() || !n.isIntegralNumber()) {
            throw new QforgeException(file + ": " + key + " must be a whole number, not " + n);
        }
        return n.asInt();
    }

    private static boolean bool(Path file, String key, JsonNode n) {
        if (!n.isBoolean()) {
            throw new QforgeException(file + ": " + key + " must be true or false, not " + n);
        }
        return n.asBoolean();
    }

    private static List<String> strings(Path file, String key, JsonNode n) {
        if (n == null || n.isNull()) {
            return List.of();
        }
        if (n.isTextual()) {
            return List.of(n.asText());
        }
        if (!n.isArray()) {
            throw new QforgeException(file + ": " + key + " must be a list of text, not " + n);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            out.add(text(file, key, e));
        }
        return List.copyOf(out);
    }
}
