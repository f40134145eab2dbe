package dev.qforge.eval.report;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qforge.QforgeException;
import dev.qforge.format.JsonFiles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Measurements made elsewhere, in the form of the reference set's {@code llama.cpp-results.json}: an object of
 * entries {@code "label": {"bytes": …, "kld": …, "kld_err": …, "ppl": …, "ppl_err": …, "same_top_p_pct": …}};
 * entries without a KLD (the base model) and keys starting with "_" are skipped.
 */
public final class ResultsFile {
    private ResultsFile() {
    }

    public static List<Measurement> read(Path file, String series, String judge, long weights) {
        JsonNode root = JsonFiles.readObject(file);
        List<Measurement> out = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode v = e.getValue();
            if (e.getKey().startsWith("_") || !v.isObject() || !v.hasNonNull("kld")) {
                continue;
            }
            if (!v.path("bytes").canConvertToLong() || v.path("bytes").asLong() <= 0 || !v.get("kld").isNumber()) {
                throw new QforgeException(file + ": entry '" + e.getKey() + "' needs a positive \"bytes\" and a numeric \"kld\"");
            }
            long bytes = v.get("bytes").asLong();
            out.add(new Measurement(e.getKey(), series, judge, bytes, 8.0 * bytes / weights,
                    number(v, "ppl"), number(v, "ppl_err"), v.get("kld").asDouble(), number(v, "kld_err"),
                    v.hasNonNull("same_top_p_pct") ? v.get("same_top_p_pct").asDouble() / 100 : null));
        }
        return out;
    }

    private static Double number(JsonNode v, String key) {
        return v.hasNonNull(key) && v.get(key).isNumber() ? v.get(key).asDouble() : null;
    }
}
