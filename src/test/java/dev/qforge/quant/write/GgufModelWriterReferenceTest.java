package dev.qforge.quant.write;

import dev.qforge.SharedData;
import dev.qforge.format.GgufFile;
import dev.qforge.format.GgufTensorInfo;
import dev.qforge.format.GgufValue;
import dev.qforge.format.Imatrix;
import dev.qforge.format.ImatrixFile;
import dev.qforge.quant.plan.LlamaFileType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * qforge's export of the tiny Llama equals llama.cpp's convert + llama-quantize output tensor by tensor, byte
 * for byte (the block quantizers are bit-exact and the input weights are the same F32 values), and key by key.
 */
class GgufModelWriterReferenceTest {
    /** Keys that legitimately differ from llama.cpp's file, with the reason (none once general.name is given). */
    static final Map<String, String> DIFFERING_KEYS = Map.of();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @CsvSource({
            "Q8_0, , qforge-tiny-llama-Q8_0.gguf",
            "Q4_0, , qforge-tiny-llama-Q4_0.gguf",
            "Q4_K_M, , qforge-tiny-llama-Q4_K_M.gguf",
            "Q4_K_M, imatrix-wiki-valid.dat, qforge-tiny-llama-Q4_K_M-imatrix.gguf",
            "IQ4_XS, imatrix-wiki-valid.dat, qforge-tiny-llama-IQ4_XS-imatrix.gguf",
            "Q2_K, imatrix-wiki-valid.dat, qforge-tiny-llama-Q2_K-imatrix.gguf",
            "TQ1_0, imatrix-wiki-valid.dat, qforge-tiny-llama-TQ1_0-imatrix.gguf",
            "TQ2_0, imatrix-wiki-valid.dat, qforge-tiny-llama-TQ2_0-imatrix.gguf",
            "IQ2_XXS, imatrix-wiki-valid.dat, qforge-tiny-llama-IQ2_XXS-imatrix.gguf",
            "IQ2_XS, imatrix-wiki-valid.dat, qforge-tiny-llama-IQ2_XS-imatrix.gguf",
            "IQ1_S, imatrix-wiki-valid.dat, qforge-tiny-llama-IQ1_S-imatrix.gguf",
            "IQ3_XXS, imatrix-wiki-valid.dat, qforge-tiny-llama-IQ3_XXS-imatrix.gguf",
    })
    void tinyLlamaMatchesLlamaCpp(String type, String imatrixName, String referenceName) {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path refDir = SharedData.require("reference/qforge-tiny-llama");
        Path reference = refDir.resolve("gguf").resolve(referenceName);
        Imatrix imatrix = imatrixName == null ? null : ImatrixFile.read(refDir.resolve(imatrixName));
        Path out = tmp.resolve("out.gguf");
        // llama.cpp named the model after its directory, "hf" → "Hf"; with that name the file must be llama.cpp's.
        GgufModelWriter.write(model, out, GgufModelWriter.Options.of(LlamaFileType.parse(type)).withImatrix(imatrix, imatrixName)
                .withName("Hf"), null);
        try (GgufFile ours = GgufFile.open(out); GgufFile ref = GgufFile.open(reference)) {
            assertEquals(ref.metadata().keys(), ours.metadata().keys(), "metadata keys in llama.cpp's order");
            for (String key : ref.metadata().keys()) {
                if (!DIFFERING_KEYS.containsKey(key)) {
                    assertEquals(ref.metadata().get(key), ours.metadata().get(key), key);
                }
            }
            List<String> names = ref.tensorInfos().stream().map(GgufTensorInfo::name).toList();
            assertEquals(names, ours.tensorInfos().stream().map(GgufTensorInfo::name).toList(), "tensor order");
            List<String> mismatched = new ArrayList<>();
            for (GgufTensorInfo r : ref.tensorInfos()) {
                GgufTensorInfo o = ours.info(r.name());
                assertEquals(r.type(), o.type(), r.name() + " type");
                assertEquals(java.util.Arrays.toString(r.ne()), java.util.Arrays.toString(o.ne()), r.name() + " dims");
                if (ref.data(r).mismatch(ours.data(o)) != -1) {
                    mismatched.add(r.name() + " (" + r.type() + ")");
                }
            }
            System.out.printf("%s: %d of %d tensors byte-identical; differing: %s%n", referenceName,
                    names.size() - mismatched.size(), names.size(), mismatched);
            assertEquals(List.of(), mismatched, "tensors whose bytes differ from llama.cpp's");
        }
        // Then the whole file is llama.cpp's, byte for byte (header, padding, offsets included).
        assertEquals(-1L, mismatch(reference, out), "first differing byte of the whole file");
    }

    /**
     * The mixes llama.cpp left only figures of (no file): with the same rules, tensor types and imatrix, qforge's file
     * has exactly the size llama.cpp's had (its bytes in llama.cpp-results.json), which the type of every tensor decides.
     */
    @ParameterizedTest
    @CsvSource({"IQ1_M, 2626016", "IQ2_S, 3242464", "IQ2_M, 3408352", "IQ3_XS, 3980768", "IQ3_S, 4128224", "IQ3_M, 4258784"})
    void mixesWithoutReferenceFilesHaveLlamaCppsSize(String type, long llamaCppBytes) throws Exception {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path refDir = SharedData.require("reference/qforge-tiny-llama");
        Imatrix imatrix = ImatrixFile.read(refDir.resolve("imatrix-wiki-valid.dat"));
        Path out = tmp.resolve("out.gguf");
        GgufModelWriter.write(model, out, GgufModelWriter.Options.of(LlamaFileType.parse(type))
                .withImatrix(imatrix, "imatrix-wiki-valid.dat").withName("Hf"), null);
        assertEquals(llamaCppBytes, java.nio.file.Files.size(out), type);
    }

    static long mismatch(Path a, Path b) {
        try {
            return java.nio.file.Files.mismatch(a, b);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * stories260K: tied embeddings and rows of 64 and 172 (no multiple of 256), so llama.cpp falls back (Q4_K → Q5_0,
     * Q6_K → Q8_0, Q2_K → IQ4_NL, and F16 for the rows of 172). Its reference F32 file got its vocabulary from
     * llama.cpp's llama2.c converter, which gives the three special tokens score 0 (and &lt;unk&gt; the type
     * UNKNOWN) where the Hugging Face converter, and qforge, give -1000 and CONTROL: those three entries may differ.
     */
    @ParameterizedTest
    @CsvSource({"F16, stories260K-F16.gguf", "Q4_K_M, stories260K-Q4_K_M.gguf", "Q2_K, stories260K-Q2_K.gguf"})
    void stories260KFallbacksMatchLlamaCpp(String type, String referenceName) {
        Path model = SharedData.require("models/stories260K/hf");
        Path reference = SharedData.require("reference/stories260K/gguf/" + referenceName);
        Path out = tmp.resolve("out.gguf");
        GgufModelWriter.write(model, out, GgufModelWriter.Options.of(LlamaFileType.parse(type)).withName("Hf"), null);
        try (GgufFile ours = GgufFile.open(out); GgufFile ref = GgufFile.open(reference)) {
            if (type.equals("F16")) {
                // This reference keeps general.file_type where the converter put it (written by convert_hf_to_gguf
                // --outtype f16, it seems); llama-quantize, and qforge, move it after general.quantization_version.
                assertEquals(new java.util.TreeSet<>(ref.metadata().keys()), new java.util.TreeSet<>(ours.metadata().keys()));
            } else {
                assertEquals(ref.metadata().keys(), ours.metadata().keys());
            }
            for (String key : ref.metadata().keys()) {
                if (key.equals("tokenizer.ggml.scores")) {
                    GgufValue r = ref.metadata().get(key);
                    GgufValue o = ours.metadata().get(key);
                    assertEquals(r.size(), o.size());
                    for (int i = 3; i < r.size(); i++) {
                        assertEquals(r.doubleAt(i), o.doubleAt(i), key + "[" + i + "]");
                    }
                } else if (key.equals("tokenizer.ggml.token_type")) {
                    GgufValue r = ref.metadata().get(key);
                    GgufValue o = ours.metadata().get(key);
                    assertEquals(r.size(), o.size());
                    for (int i = 3; i < r.size(); i++) {
                        assertEquals(r.longAt(i), o.longAt(i), key + "[" + i + "]");
                    }
                } else {
                    assertEquals(ref.metadata().get(key), ours.metadata().get(key), key);
                }
            }
            List<String> mismatched = new ArrayList<>();
            for (GgufTensorInfo r : ref.tensorInfos()) {
                GgufTensorInfo o = ours.info(r.name());
                assertEquals(r.type(), o.type(), r.name() + " type");
                if (ref.data(r).mismatch(ours.data(o)) != -1) {
                    mismatched.add(r.name() + " (" + r.type() + ")");
                }
            }
            assertEquals(ref.tensorInfos().size(), ours.tensorInfos().size());
            System.out.printf("%s: %d of %d tensors byte-identical; differing: %s%n", referenceName,
                    ref.tensorInfos().size() - mismatched.size(), ref.tensorInfos().size(), mismatched);
            assertEquals(List.of(), mismatched);
        }
    }
}
