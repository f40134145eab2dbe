package dev.qforge.quant;

import dev.qforge.SharedData;
import dev.qforge.cli.CliHarness;
import dev.qforge.format.GgufFile;
import dev.qforge.format.GgufTensorInfo;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A calibrated file must be what llama.cpp's imatrix file of the same type is in everything but the block
 * contents: the same tensors in the same types, no more bytes. (Its quality is measured with llama.cpp
 * itself, in docs/QUALITY.md.)
 */
class CalibratedGgufTest {
    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"Q4_K_M", "IQ4_XS", "Q2_K"})
    void sameTensorsTypesAndNoMoreBytesThanLlamaCppsImatrixFile(String type) throws Exception {
        Path model = SharedData.require("models/qforge-tiny-llama/hf");
        Path text = SharedData.require("text/wikitext-2-raw/wiki.valid.raw");
        Path reference = SharedData.require("reference/qforge-tiny-llama/gguf/qforge-tiny-llama-" + type + "-imatrix.gguf");
        Path out = tmp.resolve(type + ".gguf");
        CliHarness.Result r = CliHarness.run("quantize", "-m", model.toString(), "-t", type, "-o", out.toString(),
                "--calib", text.toString(), "--calib-samples", "4", "--calib-ctx", "128", "--no-check");
        assertEquals(0, r.exit(), r.err());
        assertEquals(types(reference), types(out), type + ": tensor types as llama.cpp's imatrix file");
        assertTrue(Files.size(out) <= Files.size(reference), type + ": " + Files.size(out) + " bytes vs llama.cpp's "
                + Files.size(reference));
    }

    private static Map<String, String> types(Path gguf) {
        Map<String, String> m = new TreeMap<>();
        try (GgufFile f = GgufFile.open(gguf)) {
            for (GgufTensorInfo t : f.tensorInfos()) {
                m.put(t.name(), t.type().toString());
            }
        }
        return m;
    }
}
