package dev.qforge.kernel.blocks;

import dev.qforge.SharedData;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Blocks sliced from published GGUF files (and synthetic ones for the types no published file had), with the
 * values gguf-py dequantizes them to, stored as BF16: every format of the table must give those values exactly
 * once rounded to BF16. Header: ggml type, element count, raw length, expected length (u32 each).
 */
class RealFormatSlicesTest {

    @ParameterizedTest
    @ValueSource(strings = {"smollm2_q4_0", "smollm2_q4_1", "tinyllama_q5_0", "smollm2_q5_1", "smollm2_q8_0",
            "tinyllama_q2_k", "smollm2_q3_k", "smollm2_q4_k", "smollm2_q5_k", "smollm2_q6_k", "smollm2_iq4_nl",
            "smollm2_iq4_xs", "synthetic_tq1_0", "synthetic_tq2_0", "synthetic_mxfp4",
            "mistral_7b_iq1_s", "mistral_7b_iq1_m", "mistral_7b_iq2_xxs", "mistral_7b_iq2_xs", "qwen25_iq2_s",
            "mistral_7b_iq3_xxs", "mistral_7b_iq3_s"})
    void dequantizesToWhatGgufPyGives(String slice) throws IOException {
        Path file = SharedData.require("reference/real-format-slices/gguf/" + slice + ".bin");
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        int type = b.getInt();
        int n = b.getInt();
        int rawLength = b.getInt();
        int expectedLength = b.getInt();
        BlockFormat f = BlockFormats.byGgmlType(type);
        assertEquals(2 * n, expectedLength, slice + ": BF16 values");
        assertEquals(f.rowBytes(n), rawLength, slice + ": " + f.name() + " bytes for " + n + " weights");
        byte[] raw = new byte[rawLength];
        b.get(raw);
        float[] ours = new float[n];
        f.dequantize(MemorySegment.ofArray(raw), 0, n, ours, 0);
        for (int i = 0; i < n; i++) {
            short expected = b.getShort();
            assertEquals(expected, bf16(ours[i]), slice + " (" + f.name() + ") weight " + i + ": ours " + ours[i]
                    + ", expected " + Float.intBitsToFloat((expected & 0xFFFF) << 16));
        }
    }

    /** Round to nearest even, as torch and numpy cast to BF16. */
    private static short bf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) {
            return (short) (bits >>> 16 | 0x40);
        }
        return (short) ((bits + 0x7FFF + (bits >>> 16 & 1)) >>> 16);
    }
}
