package dev.qforge.eval.report;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One self-contained HTML page of what was measured: the KL-divergence-versus-size front of every file (qforge's and,
 * when given, llama.cpp's), the table of PPL, KLD and same-top rates, each bit allocation's per-tensor sensitivities
 * and per-layer expected error, and the commands that made it all. Plots are inline SVG; nothing is loaded from
 * anywhere, so the page opens offline. The markup is well-formed XML as well as HTML, which the tests rely on.
 *
 * @param allocations a bit allocation's {@code .allocation.json}, by the label of its file
 */
public record QualityReport(String title, String subtitle, List<Measurement> measurements, Map<String, JsonNode> allocations,
                            List<String> commands) {

    public String html() {
        StringBuilder b = new StringBuilder();
        b.append("<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
        b.append("<title>").append(Html.escape(title)).append("</title>\n");
        b.append("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
                + "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
                + "td:first-child,th:first-child,td.l{text-align:left}tr.front td{font-weight:bold}"
                + "pre{background:#f4f4f4;padding:1em;overflow-x:auto;font-size:12px}.chosen{background:#d5f5e3}</style>\n");
        b.append("</head>\n<body>\n<h1>").append(Html.escape(title)).append("</h1>\n");
        b.append("<p>").append(Html.escape(subtitle)).append("</p>\n");
        b.append("<h2 id=\"front\">KL divergence against size</h2>\n");
        b.append("<p>Each point is a file; the lines join each series' front (files no smaller file of the same series beats). ")
                .append("KLD against the full-precision model's next-token distributions, log scale.</p>\n");
        b.append(FrontPlot.svg(measurements));
        files(b);
        for (Map.Entry<String, JsonNode> e : allocations.entrySet()) {
            allocation(b, e.getKey(), e.getValue());
        }
        if (!commands.isEmpty()) {
            b.append("<h2 id=\"commands\">Commands</h2>\n<pre>");
            for (String c : commands) {
                b.append(Html.escape(c)).append('\n');
            }
            b.append("</pre>\n");
        }
        b.append("</body>\n</html>\n");
        return b.toString();
    }

    private void files(StringBuilder b) {
        b.append("<h2 id=\"files\">Files</h2>\n<table>\n<tr><th>series</th><th>file</th><th>bytes</th><th>bits/weight</th><th>PPL</th>"
                + "<th>mean KLD</th><th>same top</th><th>measured by</th><th>best KLD of the other series at this size or less</th></tr>\n");
        Map<String, List<Measurement>> bySeries = new LinkedHashMap<>();
        measurements.forEach(m -> bySeries.computeIfAbsent(m.series(), k -> new ArrayList<>()).add(m));
        Set<Measurement> onFront = new java.util.HashSet<>();
        bySeries.values().forEach(s -> onFront.addAll(FrontPlot.front(s)));
        List<Measurement> sorted = new ArrayList<>(measurements);
        sorted.sort(Comparator.comparing(Measurement::series).thenComparingLong(Measurement::bytes));
        for (Measurement m : sorted) {
            String other = "";
            double best = Double.POSITIVE_INFINITY;
            for (Measurement o : measurements) {
                if (!o.series().equals(m.series()) && o.bytes() <= m.bytes() && o.kld() < best) {
                    best = o.kld();
                    other = String.format(Locale.ROOT, "%.6f (%s %s) — ratio %.3f", o.kld(), o.series(), o.label(), m.kld() / o.kld());
                }
            }
            b.append(onFront.contains(m) ? "<tr class=\"front\">" : "<tr>");
            b.append(cell(m.series())).append("<td class=\"l\">").append(Html.escape(m.label())).append("</td>");
            b.append(cell(String.format(Locale.ROOT, "%,d", m.bytes())));
            b.append(cell(String.format(Locale.ROOT, "%.3f", m.bitsPerWeight())));
            b.append(cell(m.ppl() == null ? "—" : String.format(Locale.ROOT, "%.4f", m.ppl())
                    + (m.pplError() == null ? "" : String.format(Locale.ROOT, " ± %.4f", m.pplError()))));
            b.append(cell(String.format(Locale.ROOT, "%.6f", m.kld()) + (m.kldError() == null ? "" : String.format(Locale.ROOT, " ± %.6f", m.kldError()))));
            b.append(cell(m.sameTop() == null ? "—" : String.format(Locale.ROOT, "%.2f %%", 100 * m.sameTop())));
            b.append(cell(m.judge()));
            b.append("<td class=\"l\">").append(Html.escape(other.isEmpty() ? "—" : other)).append("</td></tr>\n");
        }
        b.append("</table>\n<p>Bold rows are on their series' front.</p>\n");
    }

    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");

    private static void allocation(StringBuilder b, String label, JsonNode a) {
        String id = "allocation-" + label.replaceAll("[^A-Za-z0-9_-]", "_");
        b.append("<h2 id=\"").append(Html.escape(id)).append("\">Bit allocation of ").append(Html.escape(label)).append("</h2>\n");
        b.append(String.format(Locale.ROOT, "<p>%,d bytes (%.3f bits per weight) of a %,d-byte target; expected KLD %.6f (no allocation within the target below %.6f). %s.</p>%n",
                a.path("file_bytes").asLong(), a.path("bits_per_weight").asDouble(), a.path("target_bytes").asLong(),
                a.path("predicted_kld").asDouble(), a.path("lower_bound").asDouble(), Html.escape(a.path("sensitivity").asText())));
        // per layer: the chosen tensors' expected KLD
        Map<Integer, Double> perLayer = new TreeMap<>();
        for (JsonNode t : a.path("tensors")) {
            Matcher m = LAYER.matcher(t.path("name").asText());
            int layer = m.find() ? Integer.parseInt(m.group(1)) : -1;
            perLayer.merge(layer, chosen(t).path("expected_kld").asDouble(), Double::sum);
        }
        b.append("<h3>Expected KLD per layer (chosen types)</h3>\n");
        b.append(bars(perLayer));
        b.append("<h3>Per tensor: expected KLD of each candidate type (chosen type shaded; * measured directly)</h3>\n<table>\n<tr><th>tensor</th><th>weights</th><th>chosen</th>");
        List<String> types = new ArrayList<>();
        a.path("candidates").forEach(c -> types.add(c.asText()));
        for (String t : types) {
            b.append("<th>").append(Html.escape(t)).append("</th>");
        }
        b.append("</tr>\n");
        for (JsonNode t : a.path("tensors")) {
            b.append("<tr>").append(cell(t.path("name").asText()));
            b.append(cell(String.format(Locale.ROOT, "%,d", t.path("weights").asLong())));
            b.append(cell(t.path("chosen").asText() + (t.path("pinned").asBoolean() ? " (pinned)" : "")));
            Map<String, JsonNode> byType = new LinkedHashMap<>();
            t.path("options").forEach(o -> byType.put(o.path("type").asText(), o));
            for (String type : types) {
                JsonNode o = byType.get(type);
                if (o == null) {
                    b.append("<td>—</td>");
                } else {
                    boolean isChosen = type.equals(t.path("chosen").asText());
                    b.append(isChosen ? "<td class=\"chosen\">" : "<td>")
                            .append(String.format(Locale.ROOT, "%.2e%s", o.path("expected_kld").asDouble(), o.path("measured").asBoolean() ? "*" : ""))
                            .append("</td>");
                }
            }
            b.append("</tr>\n");
        }
        b.append("</table>\n");
    }

    private static JsonNode chosen(JsonNode tensor) {
        for (JsonNode o : tensor.path("options")) {
            if (o.path("type").asText().equals(tensor.path("chosen").asText())) {
                return o;
            }
        }
        return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
    }

    /** A horizontal bar per layer (−1: the embedding and head), lengths proportional to the value. */
    private static String bars(Map<Integer, Double> values) {
        int rowH = 18;
        int w = 760;
        int labelW = 110;
        int h = rowH * values.size() + 10;
        double max = values.values().stream().mapToDouble(Double::doubleValue).max().orElse(1);
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"expected KLD per layer\">%n", w, h, w, h));
        int i = 0;
        for (Map.Entry<Integer, Double> e : values.entrySet()) {
            int y = 5 + rowH * i++;
            double len = max > 0 ? e.getValue() / max * (w - labelW - 120) : 0;
            String name = e.getKey() < 0 ? "embedding, head" : "layer " + e.getKey();
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"end\">%s</text>", labelW - 6, y + 12, name));
            b.append(String.format(Locale.ROOT, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#2471a3\"/>", labelW, y + 2, len, rowH - 5));
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" font-family=\"sans-serif\" font-size=\"11\">%.2e</text>%n", labelW + len + 5, y + 12, e.getValue()));
        }
        b.append("</svg>\n");
        return b.toString();
    }

    private static String cell(String s) {
        return "<td>" + Html.escape(s) + "</td>";
    }
}
