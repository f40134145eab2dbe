package dev.qforge.cli;

import dev.qforge.QforgeException;
import dev.qforge.quant.allocation.BitAllocation;
import dev.qforge.quant.allocation.CandidateTypes;
import dev.qforge.quant.allocation.SizeBudget;
import dev.qforge.quant.gptq.GptqQuantizer;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** {@code quantize}'s options for a bit allocation under a size budget, and what they ask for. */
public final class AllocationOptions {
    @Option(names = "--target-size", paramLabel = "SIZE",
            description = {"Instead of -t: the file size to fit (a byte count, or 2.4GB, 860MiB, ...). qforge measures how much each tensor's",
                    "quantization to each candidate type moves the output distribution on --calib, and chooses the types per tensor",
                    "that minimize the expected KL divergence within the size (an ordinary GGUF file; --explain prints the choices)."})
    String targetSize;

    @Option(names = "--target-bpw", paramLabel = "BITS",
            description = "Instead of -t: the size to fit as bits per weight of the whole file (e.g. 3.5); as --target-size.")
    Double targetBpw;

    @Option(names = "--candidates", paramLabel = "TYPES",
            description = "The types a --target-size/--target-bpw allocation chooses from, comma-separated (default: IQ1_S,IQ1_M,IQ2_XXS,IQ2_XS,IQ2_S,Q2_K,IQ3_XXS,IQ3_S,Q3_K,IQ4_XS,Q4_K,Q5_K,Q6_K,Q8_0,F16).")
    String candidates;

    @Option(names = "--sensitivity-samples", paramLabel = "N",
            description = "Calibration sequences the allocation measures KL divergences on (default: " + BitAllocation.Request.DEFAULT_MEASURE_SEQUENCES + ").")
    Integer sensitivitySamples;

    @Option(names = "--measure-all",
            description = "Measure the KL divergence of every tensor in every candidate type (slower) instead of scaling each tensor's GPTQ errors by one measurement.")
    boolean measureAll;

    @Option(names = "--explain", description = "Print the allocation: each tensor's type and the expected KLD of every candidate.")
    boolean explain;

    /** Whether a size to fit was given. */
    boolean requested() {
        return targetSize != null || targetBpw != null;
    }

    /** One-line errors for options that do not go together, before any work. */
    void validate(String type, Path calib, Path imatrix) {
        if (targetSize != null && targetBpw != null) {
            throw new QforgeException("--target-size and --target-bpw: give one size to fit, not both");
        }
        if (requested() && type != null) {
            throw new QforgeException("-t " + type + " and a target size: the allocation chooses the types itself; give one or the other");
        }
        if (!requested() && (candidates != null || sensitivitySamples != null || measureAll || explain)) {
            throw new QforgeException("--candidates, --sensitivity-samples, --measure-all and --explain belong to a bit allocation: give --target-size or --target-bpw");
        }
        if (requested() && calib == null) {
            throw new QforgeException("a bit allocation (--target-size, --target-bpw) measures on a calibration text: give --calib FILE"
                    + (imatrix != null ? " (an imatrix holds no measure of what each tensor's rounding does to the output)" : ""));
        }
    }

    /** The request, for a model of {@code weights} weights (what --target-bpw counts over). */
    BitAllocation.Request request(long weights, GptqQuantizer.Settings gptq) {
        SizeBudget budget = targetSize != null ? SizeBudget.ofSize(targetSize) : SizeBudget.ofBitsPerWeight(targetBpw, weights);
        return new BitAllocation.Request(budget, candidates == null ? CandidateTypes.DEFAULT : CandidateTypes.parse(candidates),
                sensitivitySamples == null ? BitAllocation.Request.DEFAULT_MEASURE_SEQUENCES : sensitivitySamples,
                BitAllocation.Request.DEFAULT_REFERENCE, measureAll, gptq);
    }

    /** What a resumed run must be asked the same. */
    String fingerprint() {
        return "target " + targetSize + " " + targetBpw + ", candidates " + candidates + ", sensitivity " + sensitivitySamples + " " + measureAll;
    }
}
