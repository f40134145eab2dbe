package dev.qforge.numeric;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Lanes' results are defined by scalar arithmetic in a fixed order, so they are the same whether C2 has
 * compiled the vector code or not (reduceLanes(ADD) and lanewise(EXP) are not).
 */
class LanesTest {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    @Test
    void sumIsTheFixedPairwiseOrderBitForBit() {
        SplittableRandom random = new SplittableRandom(3);
        float[] a = new float[S.length()];
        for (int rep = 0; rep < 2000; rep++) {
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(-3, 4)));
            }
            assertEquals(Float.floatToIntBits(pairwise(a)), Float.floatToIntBits(Lanes.sum(FloatVector.fromArray(S, a, 0))));
        }
    }

    @Test
    void sumOfStoredLanesIsTheVectorSumBitForBit() {
        SplittableRandom random = new SplittableRandom(4);
        for (VectorSpecies<Float> species : java.util.List.of(FloatVector.SPECIES_512, FloatVector.SPECIES_256)) {
            float[] a = new float[species.length() + 3];
            for (int rep = 0; rep < 2000; rep++) {
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(-3, 4)));
                }
                float[] lanes = java.util.Arrays.copyOfRange(a, 3, a.length);
                assertEquals(Float.floatToIntBits(pairwise(lanes)), Float.floatToIntBits(Lanes.sum(a, 3, species.length())),
                        species.length() + " lanes");
            }
        }
    }

    /** Lane i += lane i ^ d for d = n/2, n/4, … 1, then lane 0: the order Lanes.sum promises. */
    private static float pairwise(float[] a) {
        float[] v = a.clone();
        for (int d = v.length / 2; d >= 1; d /= 2) {
            float[] next = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                next[i] = v[i] + v[i ^ d];
            }
            v = next;
        }
        return v[0];
    }

    @Test
    void expIsAccurateOverFloatsRange() {
        float[] x = new float[S.length()];
        float[] out = new float[S.length()];
        double worst = 0;
        for (float start = -87f; start < 88f; start += 0.37f * S.length()) {
            for (int i = 0; i < x.length; i++) {
                x[i] = start + 0.37f * i;
            }
            Lanes.exp(FloatVector.fromArray(S, x, 0)).intoArray(out, 0);
            for (int i = 0; i < x.length; i++) {
                double exact = Math.exp(x[i]);
                if (exact > Float.MIN_NORMAL && exact < Float.MAX_VALUE) {
                    worst = Math.max(worst, Math.abs(out[i] - exact) / exact);
                }
            }
        }
        assertTrue(worst < 5e-7, "max relative error " + worst);
        Lanes.exp(FloatVector.broadcast(S, Float.NEGATIVE_INFINITY)).intoArray(out, 0);
        assertTrue(out[0] >= 0 && out[0] < 1e-37f, "e^-inf is (nearly) zero: " + out[0]);
        Lanes.exp(FloatVector.zero(S)).intoArray(out, 0);
        assertEquals(1f, out[0]);
    }
}
