package dev.qforge.quant.allocation;

import dev.qforge.eval.LogSoftmax;
import dev.qforge.kernel.Parallel;
import dev.qforge.model.Decoder;
import dev.qforge.model.DecoderWeights;
import dev.qforge.model.InferenceState;
import dev.qforge.model.LayerWeights;
import dev.qforge.model.ModelConfig;
import dev.qforge.tensor.WeightMatrix;

import java.util.List;

/**
 * The measured end of a sensitivity: the mean KL divergence of the model's next-token distributions from the
 * full-precision model's when one weight matrix alone is replaced by a quantized one — on a few calibration
 * sequences, at the positions llama.cpp's perplexity tool scores (the second half of each sequence). The residual
 * streams at every layer's input and the base log-probabilities are computed once, so a matrix of layer l costs
 * only the layers from l on and the head.
 */
final class KldProbe {
    private final Decoder decoder;
    private final ModelConfig config;
    private final List<int[]> sequences;
    private final int ctx;
    private final int first;
    /** streams[layer][sequence]: the residual stream entering that layer (layer = numLayers: entering the head). */
    private final float[][][] streams;
    /** Base log-probabilities at the scored positions, per sequence, [scored × vocab]. */
    private final float[][] base;
    private final InferenceState state;

    KldProbe(Decoder decoder, List<int[]> sequences, int ctx) {
        this.decoder = decoder;
        this.config = decoder.config();
        this.sequences = sequences;
        this.ctx = ctx;
        this.first = ctx / 2;
        int layers = config.numLayers();
        int d = config.hiddenSize();
        this.state = decoder.newState(ctx);
        this.streams = new float[layers + 1][sequences.size()][];
        this.base = new float[sequences.size()][];
        for (int s = 0; s < sequences.size(); s++) {
            state.reset();
            decoder.embed(state, sequences.get(s), 0, ctx);
            for (int l = 0; l <= layers; l++) {
                streams[l][s] = new float[ctx * d];
                state.copyResidual(config, streams[l][s], 0, ctx);
                if (l < layers) {
                    decoder.runLayer(state, l, ctx);
                }
            }
            float[] logits = decoder.head(state, ctx, scored() + 1);
            base[s] = logProbabilities(logits);
        }
    }

    /** Positions scored per sequence: from ctx/2 to the one before last (each predicts the next token). */
    private int scored() {
        return ctx - 1 - first;
    }

    /** Tokens the mean runs over. */
    int tokens() {
        return sequences.size() * scored();
    }

    /**
     * The mean KLD (base ‖ model) with the matrix {@code original} — the embedding, the LM head, or a projection
     * of a layer — replaced by {@code replacement}. The decoder's weights are as they were afterwards.
     */
    double kld(WeightMatrix original, WeightMatrix replacement) {
        DecoderWeights w = decoder.weights();
        LayerWeights[] layers = w.layers();
        if (original == w.embedding() || original == w.lmHead()) {
            WeightMatrix embedding = original == w.embedding() ? replacement : w.embedding();
            WeightMatrix head = original == w.lmHead() ? replacement : w.lmHead();
            Decoder changed = new Decoder(config, new DecoderWeights(embedding, layers.clone(), w.finalNorm(), head, w.ropeLayout()));
            return original == w.embedding() ? measure(changed, -1) : measure(changed, layers.length);
        }
        for (int l = 0; l < layers.length; l++) {
            LayerWeights lw = layers[l];
            if (lw.matrices().stream().anyMatch(m -> m == original)) {
                w.replaceLayer(l, lw.withMatrices(m -> m == original ? replacement : m));
                try {
                    return measure(decoder, l);
                } finally {
                    w.replaceLayer(l, lw);
                }
            }
        }
        throw new IllegalArgumentException(original.name() + " is not a matrix of this model");
    }

    /** Runs every sequence from layer {@code from} (−1: from the embedding) and returns the mean KLD. */
    private double measure(Decoder model, int from) {
        int layers = config.numLayers();
        int vocab = config.vocabSize();
        double sum = 0;
        InferenceState st = model == decoder ? state : model.newState(ctx);
        for (int s = 0; s < sequences.size(); s++) {
            st.reset();
            if (from < 0) {
                model.embed(st, sequences.get(s), 0, ctx);
            } else {
                st.setResidual(config, streams[from][s], 0, ctx);
            }
            for (int l = Math.max(from, 0); l < layers; l++) {
                model.runLayer(st, l, ctx);
            }
            float[] logits = model.head(st, ctx, scored() + 1);
            float[] b = base[s];
            double[] perRow = new double[scored()];
            Parallel.forRange(scored(), r -> {
                double lse = LogSoftmax.logSumExp(logits, r * vocab, vocab);
                double k = 0;
                for (int i = 0; i < vocab; i++) {
                    float lp = b[r * vocab + i];
                    k += Math.exp(lp) * (lp - (logits[r * vocab + i] - lse));
                }
                perRow[r] = k;
            });
            for (double k : perRow) {
                sum += k;
            }
        }
        return Math.max(0, sum / tokens());
    }

    /** Log-softmax of each row but the last (which predicts past the sequence). */
    private float[] logProbabilities(float[] logits) {
        int vocab = config.vocabSize();
        int rows = scored();
        float[] out = new float[rows * vocab];
        Parallel.forRange(rows, r -> {
            double lse = LogSoftmax.logSumExp(logits, r * vocab, vocab);
            for (int i = 0; i < vocab; i++) {
                out[r * vocab + i] = (float) (logits[r * vocab + i] - lse);
            }
        });
        return out;
    }
}
