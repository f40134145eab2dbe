package dev.qforge.quant.allocation;

import dev.qforge.QforgeException;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a bit allocation must fit in: a file size in bytes, given as a plain byte count, with a decimal unit
 * (2.4GB, 900MB, 512KB) or a binary one (2.2GiB, 860MiB), or as bits per weight of the whole file (metadata and
 * norms included, over the model's weights — the measure llama.cpp's and qforge's size tables use).
 */
public record SizeBudget(long bytes, String asGiven) {
    private static final Pattern SIZE = Pattern.compile("(?i)\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB|K|M|G|T)?\\s*");

    /** "--target-size" as given: "3622368", "2.4GB", "860MiB". */
    public static SizeBudget ofSize(String text) {
        Matcher m = SIZE.matcher(text);
        if (!m.matches()) {
            throw new QforgeException("--target-size '" + text + "': expected a byte count or a size such as 2.4GB or 860MiB");
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT);
        double scale = switch (unit) {
            case "B" -> 1;
            case "KB", "K" -> 1e3;
            case "MB", "M" -> 1e6;
            case "GB", "G" -> 1e9;
            case "TB", "T" -> 1e12;
            case "KIB" -> 1024.0;
            case "MIB" -> 1024.0 * 1024;
            case "GIB" -> 1024.0 * 1024 * 1024;
            case "TIB" -> 1024.0 * 1024 * 1024 * 1024;
            default -> throw new IllegalStateException(unit);
        };
        double bytes = Math.floor(value * scale);
        if (!(bytes >= 1) || bytes > Long.MAX_VALUE / 2) {
            throw new QforgeException("--target-size '" + text + "': not a usable size");
        }
        return new SizeBudget((long) bytes, text.trim());
    }

    /** "--target-bpw": bits per weight of the whole file over {@code weights} weights. */
    public static SizeBudget ofBitsPerWeight(double bpw, long weights) {
        if (!(bpw > 0) || Double.isInfinite(bpw)) {
            throw new QforgeException("--target-bpw must be a positive number of bits per weight, not " + bpw);
        }
        return new SizeBudget((long) Math.floor(bpw * weights / 8), String.format(Locale.ROOT, "%s bits per weight", bpw));
    }
}
