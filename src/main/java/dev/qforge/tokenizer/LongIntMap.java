package dev.qforge.tokenizer;

import java.util.Arrays;

/**
 * Open-addressing map from non-negative long keys to ints. BPE looks up a merge rank for every adjacent
 * symbol pair of every word; a HashMap&lt;Long, Integer&gt; would box on each of those millions of lookups.
 */
final class LongIntMap {
    private static final long EMPTY = Long.MIN_VALUE; // never a key: keys are built from non-negative ints
    private long[] keys;
    private int[] values;
    private int size;
    private int mask;

    LongIntMap(int expected) {
        int capacity = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        Arrays.fill(keys, EMPTY);
        values = new int[capacity];
        mask = capacity - 1;
    }

    static long pair(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFF_FFFFL);
    }

    private static int slot(long key, int mask) {
        // MurmurHash3's finalizer: both halves of the key (left and right token id) reach the low bits.
        long h = key;
        h ^= h >>> 33;
        h *= 0xFF51_AFD7_ED55_8CCDL;
        h ^= h >>> 33;
        h *= 0xC4CE_B9FE_1A85_EC53L;
        h ^= h >>> 33;
        return (int) h & mask;
    }

    /** The value stored for key, or -1. */
    int get(long key) {
        int i = slot(key, mask);
        while (true) {
            long k = keys[i];
            if (k == key) {
                return values[i];
            }
            if (k == EMPTY) {
                return -1;
            }
            i = (i + 1) & mask;
        }
    }

    boolean contains(long key) {
        return get(key) >= 0;
    }

    /** Stores value for key, replacing an earlier value (values must be non-negative). */
    void put(long key, int value) {
        if ((size + 1) * 2 > keys.length) {
            grow();
        }
        int i = slot(key, mask);
        while (keys[i] != EMPTY && keys[i] != key) {
            i = (i + 1) & mask;
        }
        if (keys[i] == EMPTY) {
            size++;
        }
        keys[i] = key;
        values[i] = value;
    }

    private void grow() {
        long[] oldKeys = keys;
        int[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        Arrays.fill(keys, EMPTY);
        values = new int[keys.length];
        mask = keys.length - 1;
        for (int j = 0; j < oldKeys.length; j++) {
            if (oldKeys[j] != EMPTY) {
                int i = slot(oldKeys[j], mask);
                while (keys[i] != EMPTY) {
                    i = (i + 1) & mask;
                }
                keys[i] = oldKeys[j];
                values[i] = oldValues[j];
            }
        }
    }
}
