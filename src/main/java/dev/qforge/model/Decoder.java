package dev.qforge.model;

import dev.qforge.kernel.MatMul;
import dev.qforge.kernel.VectorMath;
import dev.qforge.tensor.WeightMatrix;

/**
 * The decoder-only transformer that every supported family is a configuration of:
 * embedding → N × (RMSNorm → q/k/v → [q/k norm] → RoPE → causal GQA attention over the KV cache → o →
 * residual → RMSNorm → SwiGLU MLP → residual) → RMSNorm → LM head.
 * A call processes a batch of consecutive tokens at once (prefill, evaluation) or a single token
 * (decode); both go through the same code, with matrix-matrix kernels for the projections.
 */
public final class Decoder {
    private final ModelConfig config;
    private final DecoderWeights weights;
    private final Rope rope;
    private ActivationObserver observer;

    public Decoder(ModelConfig config, DecoderWeights weights) {
        this.config = config;
        this.weights = weights;
        this.rope = new Rope(config.headDim(), config.ropeTheta(), config.ropeScaling(), weights.ropeLayout());
    }

    public ModelConfig config() {
        return config;
    }

    public DecoderWeights weights() {
        return weights;
    }

    /** Sets (or, with null, removes) the observer of linear-layer inputs; forward passes call it. */
    public void setActivationObserver(ActivationObserver observer) {
        this.observer = observer;
    }

    public InferenceState newState(int capacity) {
        return new InferenceState(config, capacity);
    }

    /**
     * Runs {@code count} tokens from {@code tokens[from..]} at the next positions of {@code state} and
     * returns the logits of the last {@code logitRows} of them, row after row ([logitRows × vocab]).
     */
    public float[] forward(InferenceState state, int[] tokens, int from, int count, int logitRows) {
        if (state.length + count > state.capacity) {
            throw new IllegalArgumentException("context full: " + state.length + " + " + count + " > " + state.capacity);
        }
        if (logitRows < 0 || logitRows > count) {
            throw new IllegalArgumentException("logitRows " + logitRows + " not in [0, " + count + "]");
        }
        embed(state, tokens, from, count);
        for (int layer = 0; layer < config.numLayers(); layer++) {
            runLayer(state, layer, count);
        }
        state.length += count;
        return head(state, count, logitRows);
    }

    /**
     * Puts the embeddings of {@code count} tokens from {@code tokens[from..]} into the state's residual stream,
     * for positions from {@code state.length()} on (the first step of {@link #forward}).
     */
    public void embed(InferenceState state, int[] tokens, int from, int count) {
        ModelConfig c = config;
        int d = c.hiddenSize();
        state.ensureBatch(c, count);
        for (int t = 0; t < count; t++) {
            int token = tokens[from + t];
            if (token < 0 || token >= c.vocabSize()) {
                throw new IllegalArgumentException("token id " + token + " outside the vocabulary of " + c.vocabSize());
            }
            weights.embedding().copyRowTo(token, state.x, t * d);
        }
    }

    /**
     * Runs decoder layer {@code layer} on the {@code count} rows of the residual stream, as tokens at positions
     * {@code state.length()} on; it writes that layer's KV cache and leaves the length as it was. Calibration
     * steps a model layer by layer with it: the residual stream is set with {@link InferenceState#setResidual}.
     */
    public void runLayer(InferenceState state, int layer, int count) {
        if (count > state.batch) {
            throw new IllegalArgumentException("the residual stream holds " + state.batch + " rows, not " + count);
        }
        if (state.length + count > state.capacity) {
            throw new IllegalArgumentException("context full: " + state.length + " + " + count + " > " + state.capacity);
        }
        rope.ensurePositions(state.length + count);
        attentionBlock(state, layer, count);
        mlpBlock(state, layer, count);
    }

    /** The final norm of the last {@code logitRows} of {@code count} residual rows, and their logits. */
    public float[] head(InferenceState state, int count, int logitRows) {
        if (logitRows == 0) {
            return new float[0];
        }
        float[] normed = finalNorm(state, count, logitRows);
        float[] logits = new float[logitRows * config.vocabSize()];
        linear(weights.lmHead(), normed, logitRows, logits);
        return logits;
    }

    /** The final RMSNorm of the last {@code rows} of {@code count} residual rows (the LM head's input), in the state's buffer. */
    public float[] finalNorm(InferenceState state, int count, int rows) {
        int d = config.hiddenSize();
        normRows(state.x, (count - rows) * d, weights.finalNorm(), state.normed, rows, d);
        return state.normed;
    }

    private void attentionBlock(InferenceState s, int layer, int n) {
        ModelConfig c = config;
        LayerWeights w = weights.layers()[layer];
        int d = c.hiddenSize();
        normRows(s.x, 0, w.attentionNorm(), s.xb, n, d);
        linearShared(new WeightMatrix[] {w.wq(), w.wk(), w.wv()}, s.xb, n, new float[][] {s.q, s.k, s.v});
        int qDim = c.qDim();
        int kvDim = c.kvDim();
        for (int t = 0; t < n; t++) {
            if (w.bq() != null) {
                VectorMath.add(w.bq(), 0, s.q, t * qDim, qDim);
                VectorMath.add(w.bk(), 0, s.k, t * kvDim, kvDim);
                VectorMath.add(w.bv(), 0, s.v, t * kvDim, kvDim);
            }
            int pos = s.length + t;
            normAndRotateHeads(s.q, t * qDim, c.numHeads(), w.qNorm(), pos);
            normAndRotateHeads(s.k, t * kvDim, c.numKvHeads(), w.kNorm(), pos);
        }
        Attention.attend(c, s, layer, n);
        linear(w.wo(), s.attention, n, s.projected);
        VectorMath.add(s.projected, 0, s.x, 0, n * d);
    }

    private void mlpBlock(InferenceState s, int layer, int n) {
        ModelConfig c = config;
        LayerWeights w = weights.layers()[layer];
        int d = c.hiddenSize();
        normRows(s.x, 0, w.mlpNorm(), s.xb, n, d);
        linearShared(new WeightMatrix[] {w.wGate(), w.wUp()}, s.xb, n, new float[][] {s.gate, s.up});
        VectorMath.siluMul(s.gate, s.up, n * c.intermediateSize());
        linear(w.wDown(), s.gate, n, s.projected);
        VectorMath.add(s.projected, 0, s.x, 0, n * d);
    }

    /** RMSNorm of each of {@code rows} rows of {@code width} from in[inOff ..] into out[0 ..]. */
    private void normRows(float[] in, int inOff, float[] weight, float[] out, int rows, int width) {
        for (int t = 0; t < rows; t++) {
            VectorMath.rmsNorm(in, inOff + t * width, weight, config.rmsNormEps(), out, t * width, width);
        }
    }

    /** For each head of one token's q or k row: the per-head RMSNorm where the family has one (Qwen3), then RoPE. */
    private void normAndRotateHeads(float[] v, int rowOff, int heads, float[] headNorm, int pos) {
        int hd = config.headDim();
        for (int h = 0; h < heads; h++) {
            int off = rowOff + h * hd;
            if (headNorm != null) {
                VectorMath.rmsNorm(v, off, headNorm, config.rmsNormEps(), v, off, hd);
            }
            rope.apply(v, off, pos);
        }
    }

    /**
     * outs[i] = ws[i]·x for n rows of x, matrices that read the same input: a decode step multiplies them in one
     * parallel job ({@link MatMul#matvecShared}), a batch one by one.
     */
    private void linearShared(WeightMatrix[] ws, float[] x, int n, float[][] outs) {
        if (n != 1) {
            for (int i = 0; i < ws.length; i++) {
                linear(ws[i], x, n, outs[i]);
            }
            return;
        }
        if (observer != null) {
            for (WeightMatrix w : ws) {
                observer.linearInput(w.name(), x, n, w.cols());
            }
        }
        MatMul.matvecShared(ws, x, outs);
    }

    /** out = W·x for n rows of x, shown to the observer first. */
    private void linear(WeightMatrix w, float[] x, int n, float[] out) {
        if (observer != null) {
            observer.linearInput(w.name(), x, n, w.cols());
        }
        MatMul.matmul(w, x, n, out);
    }
}
