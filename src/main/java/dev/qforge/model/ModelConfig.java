package dev.qforge.model;

/**
 * The shape and hyper-parameters of one decoder, as read from config.json. Everything the forward pass
 * needs to know about a model family is here, so that one decoder serves every family.
 */
public record ModelConfig(
        ModelFamily family,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int vocabSize,
        int maxPositions,
        float rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        boolean tieWordEmbeddings,
        boolean qkvBias,
        boolean qkNorm,
        int slidingWindow,
        Integer bosTokenId,
        Integer eosTokenId) {

    public int qDim() {
        return numHeads * headDim;
    }

    public int kvDim() {
        return numKvHeads * headDim;
    }

    /** Parameters of the decoder (embedding, blocks, final norm, LM head when untied), biases included. */
    public long parameterCount() {
        long d = hiddenSize;
        long attention = d * qDim() + 2 * d * kvDim() + (long) qDim() * d + (qkvBias ? qDim() + 2L * kvDim() : 0)
                + (qkNorm ? 2L * headDim : 0);
        long mlp = 3 * d * intermediateSize;
        long perLayer = attention + mlp + 2 * d;
        long embed = (long) vocabSize * d;
        return embed + numLayers * perLayer + d + (tieWordEmbeddings ? 0 : embed);
    }
}
