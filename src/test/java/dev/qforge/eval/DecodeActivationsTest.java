package dev.qforge.eval;

import dev.qforge.SharedData;
import dev.qforge.format.TextFiles;
import dev.qforge.model.Decoder;
import dev.qforge.model.InferenceState;
import dev.qforge.runtime.QModel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What quantizing the activations to int8 costs. Token-by-token decode of a block-quantized model runs the
 * interleaved integer kernels on int8 activations (ggml's Q8_0 levels, as llama.cpp's decode does); a
 * batch keeps activations in F32. On llama.cpp's GGUF files of qforge-tiny-llama, the two paths' next-token
 * distributions over 128 tokens of WikiText-2 must stay close: mean KL divergence well under the
 * quantization's own against F32 (0.0032 for Q4_K_M, QUALITY.md) and the same top token almost always.
 */
class DecodeActivationsTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource({"Q8_0, 0.0005", "Q4_0, 0.0005", "Q4_K_M, 0.0005"})
    void decodeWithInt8ActivationsStaysCloseToTheFloatBatch(String type, double maxMeanKld) {
        Path gguf = SharedData.require("reference/qforge-tiny-llama/gguf/qforge-tiny-llama-" + type + ".gguf");
        Path tokenizer = SharedData.require("models/qforge-tiny-llama/hf");
        String text = TextFiles.readUtf8(SharedData.require("text/wikitext-2-raw/wiki.test.raw"));
        try (QModel m = QModel.load(gguf, tokenizer)) {
            int n = 128;
            int[] tokens = new int[n];
            tokens[0] = m.bosToken();
            System.arraycopy(m.tokenizer().encode(text.substring(0, 4000)), 0, tokens, 1, n - 1);
            Decoder decoder = m.decoder();
            int vocab = decoder.config().vocabSize();
            float[] batch = decoder.forward(decoder.newState(n), tokens, 0, n, n);
            InferenceState state = decoder.newState(n);
            double kld = 0;
            int sameTop = 0;
            for (int t = 0; t < n; t++) {
                float[] step = decoder.forward(state, tokens, t, 1, 1);
                float[] ref = Arrays.copyOfRange(batch, t * vocab, (t + 1) * vocab);
                kld += klDivergence(ref, step, vocab);
                sameTop += argmax(ref) == argmax(step) ? 1 : 0;
            }
            double meanKld = kld / n;
            System.out.printf("tiny-llama %s: decode (int8 activations) vs batch (F32): mean KLD %.6f, same top %d/%d%n",
                    type, meanKld, sameTop, n);
            assertTrue(meanKld < maxMeanKld, type + ": mean KLD " + meanKld);
            assertTrue(sameTop >= n * 0.95, type + ": same top token " + sameTop + "/" + n);
        }
    }

    private static double klDivergence(float[] p, float[] q, int n) {
        double lp = LogSoftmax.logSumExp(p, 0, n);
        double lq = LogSoftmax.logSumExp(q, 0, n);
        double kl = 0;
        for (int i = 0; i < n; i++) {
            double a = p[i] - lp;
            kl += Math.exp(a) * (a - (q[i] - lq));
        }
        return kl;
    }

    private static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
