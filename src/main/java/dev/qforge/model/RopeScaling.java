package dev.qforge.model;

/**
 * How rotary frequencies are rescaled for long contexts ({@code rope_scaling} of config.json).
 * NONE and LINEAR are the classic forms; LLAMA3 is Llama 3.1's piecewise rescaling of the inverse
 * frequencies by wavelength.
 */
public record RopeScaling(Type type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositions) {
    public enum Type { NONE, LINEAR, LLAMA3 }

    public static final RopeScaling NONE = new RopeScaling(Type.NONE, 1, 0, 0, 0);

    public static RopeScaling linear(double factor) {
        return new RopeScaling(Type.LINEAR, factor, 0, 0, 0);
    }

    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor, int originalMaxPositions) {
        return new RopeScaling(Type.LLAMA3, factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
    }

    /** The inverse frequency of rotary pair i after scaling. */
    public double scale(double invFreq) {
        return switch (type) {
            case NONE -> invFreq;
            case LINEAR -> invFreq / factor;
            case LLAMA3 -> {
                double lowFreqWavelen = originalMaxPositions / lowFreqFactor;
                double highFreqWavelen = originalMaxPositions / highFreqFactor;
                double wavelen = 2 * Math.PI / invFreq;
                if (wavelen < highFreqWavelen) {
                    yield invFreq;
                }
                if (wavelen > lowFreqWavelen) {
                    yield invFreq / factor;
                }
                double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                yield (1 - smooth) * invFreq / factor + smooth * invFreq;
            }
        };
    }

    /**
     * Llama 3 scaling as llama.cpp stores it (tensor {@code rope_freqs.weight}): per rotary pair, the factor the
     * base inverse frequency is divided by, computed in float32 as llama.cpp's converter does.
     */
    public float[] freqFactors(double theta, int headDim) {
        if (type != Type.LLAMA3) {
            throw new IllegalStateException("only llama3 rope scaling is stored as per-pair factors");
        }
        float[] f = new float[headDim / 2];
        float lowWavelen = (float) (originalMaxPositions / lowFreqFactor);
        float highWavelen = (float) (originalMaxPositions / highFreqFactor);
        for (int i = 0; i < f.length; i++) {
            float invFreq = 1f / (float) Math.pow(theta, (float) (2 * i) / headDim);
            float wavelen = (float) (2 * Math.PI) / invFreq;
            if (wavelen < highWavelen) {
                f[i] = 1f;
            } else if (wavelen > lowWavelen) {
                f[i] = (float) factor;
            } else {
                float smooth = (float) ((originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor));
                f[i] = 1f / ((1f - smooth) / (float) factor + smooth);
            }
        }
        return f;
    }

    /**
     * The Llama 3 scaling whose per-pair factors are {@code factors} (as read from a GGUF file's rope_freqs), trying
     * the parameters Llama 3.1 and 3.2 use (low 1, high 4, original context 8192; factor the largest); null
     * when they do not reproduce the factors.
     */
    public static RopeScaling fromFreqFactors(float[] factors, double theta, int headDim) {
        float max = 1f;
        for (float x : factors) {
            max = Math.max(max, x);
        }
        if (factors.length != headDim / 2) {
            return null;
        }
        RopeScaling candidate = llama3(max, 1, 4, 8192);
        float[] expected = candidate.freqFactors(theta, headDim);
        for (int i = 0; i < factors.length; i++) {
            if (Math.abs(expected[i] - factors[i]) > 1e-4 * Math.max(1f, Math.abs(factors[i]))) {
                return null;
            }
        }
        return candidate;
    }
}
