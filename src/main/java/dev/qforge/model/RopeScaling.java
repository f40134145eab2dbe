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
}
