package dev.qforge.eval.report;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The KL-divergence-versus-size plot as inline SVG: bits per weight across, KLD up on a log scale, one colour per
 * series, each series' front (its files that no smaller file of the series beats) joined by a line. Self-contained:
 * no script, no fonts or styles from outside.
 */
final class FrontPlot {
    private static final String[] COLOURS = {"#c0392b", "#2471a3", "#1e8449", "#7d3c98", "#b9770e"};
    private static final int W = 760;
    private static final int H = 440;
    private static final int LEFT = 70;
    private static final int RIGHT = 20;
    private static final int TOP = 20;
    private static final int BOTTOM = 50;

    private FrontPlot() {
    }

    /** The files of one series that no smaller file of the series beats, by size. */
    static List<Measurement> front(List<Measurement> series) {
        List<Measurement> sorted = new ArrayList<>(series);
        sorted.sort(Comparator.comparingLong(Measurement::bytes).thenComparingDouble(Measurement::kld));
        List<Measurement> out = new ArrayList<>();
        double best = Double.POSITIVE_INFINITY;
        for (Measurement m : sorted) {
            if (m.kld() < best) {
                out.add(m);
                best = m.kld();
            }
        }
        return out;
    }

    static String svg(List<Measurement> all) {
        List<Measurement> points = all.stream().filter(m -> m.kld() > 0).toList();
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"KL divergence against bits per weight\">%n", W, H, W, H));
        b.append("<rect x=\"0\" y=\"0\" width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        if (points.isEmpty()) {
            b.append("<text x=\"20\" y=\"40\">no measurements</text>\n</svg>\n");
            return b.toString();
        }
        double x0 = Math.floor(points.stream().mapToDouble(Measurement::bitsPerWeight).min().orElseThrow() * 2) / 2;
        double x1 = Math.ceil(points.stream().mapToDouble(Measurement::bitsPerWeight).max().orElseThrow() * 2) / 2;
        if (x1 <= x0) {
            x1 = x0 + 1;
        }
        double y0 = Math.floor(Math.log10(points.stream().mapToDouble(Measurement::kld).min().orElseThrow()));
        double y1 = Math.ceil(Math.log10(points.stream().mapToDouble(Measurement::kld).max().orElseThrow()));
        if (y1 <= y0) {
            y1 = y0 + 1;
        }
        Scale s = new Scale(x0, x1, y0, y1);
        // axes and grid
        b.append(String.format(Locale.ROOT, "<g stroke=\"#ccc\" stroke-width=\"1\">%n"));
        for (double d = y0; d <= y1 + 1e-9; d++) {
            double y = s.y(Math.pow(10, d));
            b.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>%n", LEFT, y, W - RIGHT, y));
        }
        for (double x = x0; x <= x1 + 1e-9; x += 0.5) {
            double px = s.x(x);
            b.append(String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>%n", px, TOP, px, H - BOTTOM));
        }
        b.append("</g>\n<g font-family=\"sans-serif\" font-size=\"11\" fill=\"#333\">\n");
        for (double d = y0; d <= y1 + 1e-9; d++) {
            b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">1e%d</text>%n", LEFT - 6, s.y(Math.pow(10, d)) + 4, (int) d));
        }
        for (double x = x0; x <= x1 + 1e-9; x += 0.5) {
            b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>%n", s.x(x), H - BOTTOM + 16,
                    x == Math.rint(x) ? Integer.toString((int) x) : String.format(Locale.ROOT, "%.1f", x)));
        }
        b.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">bits per weight (whole file)</text>%n", (LEFT + W - RIGHT) / 2, H - 12));
        b.append(String.format(Locale.ROOT, "<text x=\"16\" y=\"%d\" text-anchor=\"middle\" transform=\"rotate(-90 16 %d)\">mean KL divergence (log)</text>%n", (TOP + H - BOTTOM) / 2, (TOP + H - BOTTOM) / 2));
        b.append("</g>\n");
        Map<String, List<Measurement>> bySeries = new LinkedHashMap<>();
        points.forEach(m -> bySeries.computeIfAbsent(m.series(), k -> new ArrayList<>()).add(m));
        int c = 0;
        int legend = 0;
        for (Map.Entry<String, List<Measurement>> e : bySeries.entrySet()) {
            String colour = COLOURS[c++ % COLOURS.length];
            StringBuilder path = new StringBuilder();
            List<Measurement> front = front(e.getValue());
            for (Measurement m : front) {
                path.append(path.isEmpty() ? "M" : " L").append(String.format(Locale.ROOT, "%.1f %.1f", s.x(m.bitsPerWeight()), s.y(m.kld())));
            }
            b.append(String.format(Locale.ROOT, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>%n", path, colour));
            for (Measurement m : e.getValue()) {
                b.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\"><title>%s: %.3f bits per weight, KLD %.6f</title></circle>%n",
                        s.x(m.bitsPerWeight()), s.y(m.kld()), colour, Html.escape(m.series() + " " + m.label()), m.bitsPerWeight(), m.kld()));
                if (front.contains(m)) {
                    // only the front is labelled: the points behind it crowd each other (their names are in the tooltips)
                    b.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"9\" fill=\"%s\">%s</text>%n",
                            s.x(m.bitsPerWeight()) + 5, s.y(m.kld()) - 5, colour, Html.escape(m.label())));
                }
            }
            b.append(String.format(Locale.ROOT, "<g font-family=\"sans-serif\" font-size=\"12\"><rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text></g>%n",
                    W - RIGHT - 150, TOP + 8 + 18 * legend, colour, W - RIGHT - 132, TOP + 18 + 18 * legend, Html.escape(e.getKey())));
            legend++;
        }
        b.append("</svg>\n");
        return b.toString();
    }

    private record Scale(double x0, double x1, double y0, double y1) {
        double x(double bpw) {
            return LEFT + (bpw - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        }

        double y(double kld) {
            return TOP + (y1 - Math.log10(kld)) / (y1 - y0) * (H - TOP - BOTTOM);
        }
    }
}
