package dev.qforge.quant.allocation;

import dev.qforge.QforgeException;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.BlockFormats;
import dev.qforge.kernel.blocks.GgmlType;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The block types a bit allocation may give a tensor. The default is every weight type of the table that qforge
 * writes and stock llama.cpp runs, from IQ1_S's 1.56 bits to F16: llama.cpp's lattice types, the K-quants
 * (their scale searches use the calibration's importance), IQ4_XS, Q8_0 and F16. The legacy 32-blocks (Q4_0 …)
 * are left out: at the same bits a K-quant or IQ4_XS is better on every tensor measured, and each candidate costs a
 * quantization per tensor.
 */
public final class CandidateTypes {
    /** In increasing size; a tensor whose rows a type's block does not divide simply lacks that option. */
    public static final List<GgmlType> DEFAULT = List.of(GgmlType.IQ1_S, GgmlType.IQ1_M, GgmlType.IQ2_XXS, GgmlType.IQ2_XS,
            GgmlType.IQ2_S, GgmlType.Q2_K, GgmlType.IQ3_XXS, GgmlType.IQ3_S, GgmlType.Q3_K, GgmlType.IQ4_XS, GgmlType.Q4_K,
            GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_0, GgmlType.F16);

    private CandidateTypes() {
    }

    /** "Q3_K,Q4_K,Q6_K" (block format names, case-insensitive) as a list of writable weight types. */
    public static List<GgmlType> parse(String csv) {
        List<GgmlType> out = new ArrayList<>();
        for (String part : csv.split(",")) {
            String n = part.trim().toUpperCase(Locale.ROOT);
            if (n.isEmpty()) {
                continue;
            }
            BlockFormat f;
            try {
                f = BlockFormats.byName(n);
            } catch (QforgeException e) {
                throw new QforgeException("--candidates: " + e.getMessage());
            }
            GgmlType t = f.ggmlType() < 0 ? null : GgmlType.byId(f.ggmlType());
            if (t == null || !f.canQuantize()) {
                throw new QforgeException("--candidates: qforge cannot write " + n + " tensors into a GGUF file");
            }
            if (t == GgmlType.Q8_K || t == GgmlType.F32) {
                throw new QforgeException("--candidates: " + n + " is not a weight type for a bit allocation");
            }
            if (!out.contains(t)) {
                out.add(t);
            }
        }
        if (out.isEmpty()) {
            throw new QforgeException("--candidates: no types given");
        }
        out.sort((a, b) -> Double.compare(bits(a), bits(b)));
        return List.copyOf(out);
    }

    /** The candidates a row of {@code rowLength} weights can be stored in. */
    public static List<GgmlType> forRow(List<GgmlType> candidates, long rowLength) {
        return candidates.stream().filter(t -> rowLength % t.blockSize() == 0).toList();
    }

    /** Bits per weight of a type. */
    public static double bits(GgmlType t) {
        return 8.0 * t.bytesPerBlock() / t.blockSize();
    }
}
