package dev.qforge.kernel.blocks;

import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * For the formats with at most 4 levels (TQ1_0, TQ2_0, Q2_K): every product a weight pair can contribute, looked up
 * instead of multiplied. Two weights' 2-bit codes make a 4-bit index i, and for the columns 2q and 2q+1 the table
 * holds {@code level[i & 3]·a[2q] + level[i >> 2]·a[2q+1]} for all 16 indices (twice, in short lanes 0-15 and
 * 16-31, so a lookup reading 5 index bits needs no mask). One lookup and one add then take two columns of 32 rows,
 * where a 4-bit code layout takes one column per lookup, multiply and add; the tables of an activation vector,
 * 64 bytes per pair of columns, are built once per matrix-vector product and read by every group of rows.
 */
final class PairTables {
    private static final VectorSpecies<Short> S = InterleavedLanes.S;
    /** Shorts per pair of columns. */
    static final int STRIDE = 32;

    /** Lane i: the level of code i & 3 (the first column's), and of code (i >> 2) & 3 (the second's). */
    private final short[] firstLevel = new short[STRIDE];
    private final short[] secondLevel = new short[STRIDE];
    private final int largest;

    /** levels: the level of each code 0-3 (codes a format does not use may hold anything, 0 by convention). */
    PairTables(short[] levels) {
        if (levels.length != 4) {
            throw new IllegalArgumentException("4 levels, not " + levels.length);
        }
        int max = 0;
        for (int i = 0; i < STRIDE; i++) {
            firstLevel[i] = levels[i & 3];
            secondLevel[i] = levels[(i >> 2) & 3];
        }
        for (short l : levels) {
            max = Math.max(max, Math.abs(l));
        }
        this.largest = max;
    }

    /** The largest table entry in magnitude: two products of a level and an int8 activation level. */
    int largestEntry() {
        return 2 * 127 * largest;
    }

    /** The tables of x (built on first use after x was set; shared by the threads of one product). */
    short[] of(QuantizedInput x) {
        return x.pairTables(this);
    }

    /** The tables for the activation levels a[0 .. n), into out when it is long enough. */
    short[] build(short[] a, int n, short[] out) {
        short[] t = out.length >= n / 2 * STRIDE ? out : new short[n / 2 * STRIDE];
        ShortVector first = ShortVector.fromArray(S, firstLevel, 0);
        ShortVector second = ShortVector.fromArray(S, secondLevel, 0);
        for (int q = 0; q < n / 2; q++) {
            first.mul(a[2 * q]).add(second.mul(a[2 * q + 1])).intoArray(t, q * STRIDE);
        }
        return t;
    }
}
