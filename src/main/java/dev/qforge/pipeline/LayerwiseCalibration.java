package dev.qforge.pipeline;

import dev.qforge.model.ActivationObserver;
import dev.qforge.model.Decoder;
import dev.qforge.model.DecoderWeights;
import dev.qforge.model.InferenceState;
import dev.qforge.model.LayerWeights;
import dev.qforge.model.ModelConfig;
import dev.qforge.quant.gptq.Hessian;
import dev.qforge.tensor.WeightMatrix;

import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The layer-by-layer calibration loop of GPTQ's reference code and llm-compressor's sequential pipeline:
 * the calibration sequences' residual streams go through one decoder layer at a time. For each layer the
 * inputs of its linears are summed into Hessians (one per distinct input: q/k/v share one, gate/up share
 * one), the method quantizes the layer's seven matrices, the quantized layer takes the full-precision one's
 * place, and the streams are run through it again to become the next layer's inputs — so each layer is
 * calibrated on what the quantized model before it computes. Only one layer's Hessians and the streams
 * ([samples × ctx × hidden] floats) live in memory; weights are read from the mapped files.
 */
public final class LayerwiseCalibration {
    /** Told as the loop goes. */
    public interface Listener {
        void layerDone(int layer, int layers, double seconds);

        /**
         * Progress within a layer, whose passes over the sequences take minutes on large models: {@code done}
         * of the layer's {@code total} sequence runs (the inputs' pass, then the outputs' pass where there is one).
         */
        default void sequencesDone(int layer, int layers, int done, int total) {
        }
    }

    private final Decoder decoder;
    private final boolean fullPrecisionOutputs;

    /**
     * @param fullPrecisionOutputs feed each layer the full-precision layer's outputs instead of the quantized one's
     */
    public LayerwiseCalibration(Decoder decoder, boolean fullPrecisionOutputs) {
        this.decoder = decoder;
        this.fullPrecisionOutputs = fullPrecisionOutputs;
    }

    /** Quantizes every layer's projections and (when it is not the tied embedding) the LM head. */
    public void run(CalibrationSamples samples, MatrixQuantizer method, Listener listener) {
        ModelConfig c = decoder.config();
        DecoderWeights weights = decoder.weights();
        int ctx = samples.ctx();
        int d = c.hiddenSize();
        List<int[]> sequences = samples.sequences();
        float[][] streams = new float[sequences.size()][];
        InferenceState state = decoder.newState(ctx);
        for (int s = 0; s < streams.length; s++) {
            state.reset();
            decoder.embed(state, sequences.get(s), 0, ctx);
            streams[s] = new float[ctx * d];
            state.copyResidual(c, streams[s], 0, ctx);
        }
        float[][] next = fullPrecisionOutputs ? new float[streams.length][ctx * d] : null;
        for (int layer = 0; layer < c.numLayers(); layer++) {
            long t0 = System.nanoTime();
            LayerWeights lw = weights.layers()[layer];
            LayerWeights replay = restored(method, layer, lw);
            if (replay != null) {
                // Quantized by an interrupted run: only the streams need to advance through it.
                Pass pass = new Pass(layer, c.numLayers(), 0, 1, listener);
                if (fullPrecisionOutputs) {
                    runLayer(streams, streams, state, null, pass);
                    weights.replaceLayer(layer, replay);
                } else {
                    weights.replaceLayer(layer, replay);
                    runLayer(streams, streams, state, null, pass);
                }
                if (listener != null) {
                    listener.layerDone(layer, c.numLayers(), (System.nanoTime() - t0) / 1e9);
                }
                continue;
            }
            Hessian attnIn = new Hessian(d);
            Hessian oIn = new Hessian(c.qDim());
            Hessian mlpIn = new Hessian(d);
            Hessian downIn = new Hessian(c.intermediateSize());
            // The first linear of each shared input adds it; k, v and up read the same rows again.
            Map<String, Hessian> collectors = new HashMap<>();
            collectors.put(lw.wq().name(), attnIn);
            collectors.put(lw.wo().name(), oIn);
            collectors.put(lw.wGate().name(), mlpIn);
            collectors.put(lw.wDown().name(), downIn);
            ActivationObserver observer = (name, x, rows, cols) -> {
                Hessian h = collectors.get(name);
                if (h != null) {
                    h.add(x, rows);
                }
            };
            int passes = fullPrecisionOutputs ? 1 : 2;
            runLayer(streams, next, state, observer, new Pass(layer, c.numLayers(), 0, passes, listener));
            Map<WeightMatrix, Hessian> inputs = new IdentityHashMap<>();
            inputs.put(lw.wq(), attnIn);
            inputs.put(lw.wk(), attnIn);
            inputs.put(lw.wv(), attnIn);
            inputs.put(lw.wo(), oIn);
            inputs.put(lw.wGate(), mlpIn);
            inputs.put(lw.wUp(), mlpIn);
            inputs.put(lw.wDown(), downIn);
            Map<WeightMatrix, String> roles = roles(lw);
            int l = layer;
            weights.replaceLayer(layer, lw.withMatrices(m -> method.quantize(l, roles.get(m), m, inputs.get(m))));
            if (fullPrecisionOutputs) {
                float[][] t = streams;
                streams = next;
                next = t;
            } else {
                runLayer(streams, streams, state, null, new Pass(layer, c.numLayers(), 1, passes, listener));
            }
            method.layerDone(layer);
            if (listener != null) {
                listener.layerDone(layer, c.numLayers(), (System.nanoTime() - t0) / 1e9);
            }
        }
        if (method.quantizesHead() && weights.lmHead() != weights.embedding() && method.restored(-1, "output", weights.lmHead()) == null) {
            Hessian headIn = new Hessian(d);
            for (float[] stream : streams) {
                state.reset();
                state.setResidual(c, stream, 0, ctx);
                headIn.add(decoder.finalNorm(state, ctx, ctx), ctx);
            }
            method.quantize(-1, "output", weights.lmHead(), headIn);
        }
        method.layerDone(c.numLayers());
    }

    /** The roles of {@link LayerWeights#matrices()}, in its order. */
    private static final String[] ROLES = {"q", "k", "v", "o", "gate", "up", "down"};

    /** Each projection matrix of the layer (the objects themselves) with its role. */
    private static Map<WeightMatrix, String> roles(LayerWeights lw) {
        Map<WeightMatrix, String> roles = new IdentityHashMap<>();
        java.util.List<WeightMatrix> matrices = lw.matrices();
        for (int i = 0; i < matrices.size(); i++) {
            roles.put(matrices.get(i), ROLES[i]);
        }
        return roles;
    }

    /** The layer as an earlier run quantized it, when all seven of its matrices were stored; else null. */
    private static LayerWeights restored(MatrixQuantizer method, int layer, LayerWeights lw) {
        Map<WeightMatrix, WeightMatrix> done = new IdentityHashMap<>();
        for (Map.Entry<WeightMatrix, String> e : roles(lw).entrySet()) {
            WeightMatrix m = method.restored(layer, e.getValue(), e.getKey());
            if (m == null) {
                return null;
            }
            done.put(e.getKey(), m);
        }
        return lw.withMatrices(done::get);
    }

    /** Which pass over a layer's sequences this is, of how many, and whom to tell. */
    private record Pass(int layer, int layers, int index, int passes, Listener listener) {
        void sequenceDone(int s, int sequences) {
            if (listener != null) {
                listener.sequencesDone(layer, layers, index * sequences + s + 1, passes * sequences);
            }
        }
    }

    /**
     * Runs the pass's layer over every stream with {@code observer} watching; the outputs go to
     * {@code outputs} (which may be the streams themselves), or nowhere when it is null.
     */
    private void runLayer(float[][] streams, float[][] outputs, InferenceState state, ActivationObserver observer, Pass pass) {
        ModelConfig c = decoder.config();
        int layer = pass.layer();
        int ctx = state.capacity();
        decoder.setActivationObserver(observer);
        try {
            for (int s = 0; s < streams.length; s++) {
                state.reset();
                state.setResidual(c, streams[s], 0, ctx);
                decoder.runLayer(state, layer, ctx);
                if (outputs != null) {
                    state.copyResidual(c, outputs[s], 0, ctx);
                }
                pass.sequenceDone(s, streams.length);
            }
        } finally {
            decoder.setActivationObserver(null);
        }
    }
}
