package dev.qforge.kernel.blocks;

import java.util.Arrays;

/**
 * What ggml's searches over an 8-wide lattice grid need (iq2xs_init_impl): each grid entry as eight odd levels
 * 2l + 1 (l in 0..2), a map from any such point (its levels packed 2 bits each) to its grid entry, and, for the
 * points off the grid, the entries nearest to them — every entry at the {@code nwant} smallest distances, in
 * ggml's order (by distance, then by index). The quantizers round a group to the nearest point of the cube, and
 * when that point is off the grid choose among its neighbours by weighted error.
 */
final class Iq2Lattice {
    /** Points are 8 levels of 2 bits: indices up to 0xAAAA (every level at most 2). */
    private static final int MAP_SIZE = 43692;

    final int size;
    /** Entry k's levels as 2l + 1, at [8k, 8k + 8). */
    final byte[] grid;
    /** Point → entry, or −(1 + the start of its neighbour list in {@link #neighbours}). */
    final int[] map;
    /** Lists: a count, then that many entry indices. */
    final short[] neighbours;

    /**
     * @param magnitudes the decoded grid (8 magnitudes per entry, three distinct values, as {@link IqGrids} holds)
     * @param nwant      how many distinct nearest distances a neighbour list spans (ggml: 2 for IQ2_XXS/XS, 1 for IQ2_S, 3 for IQ1)
     */
    Iq2Lattice(byte[] magnitudes, int nwant) {
        this.size = magnitudes.length / 8;
        int[] levels = magnitudes.length == 0 ? new int[0] : distinct(magnitudes);
        this.grid = new byte[size * 8];
        this.map = new int[MAP_SIZE];
        Arrays.fill(map, -1);
        for (int k = 0; k < size; k++) {
            int index = 0;
            for (int i = 0; i < 8; i++) {
                int l = Arrays.binarySearch(levels, magnitudes[8 * k + i] & 0xFF);
                grid[8 * k + i] = (byte) (2 * l + 1);
                index |= l << 2 * i;
            }
            map[index] = k;
        }
        short[] lists = new short[1 << 20];
        int used = 0;
        long[] byDistance = new long[size];
        for (int i = 0; i < MAP_SIZE; i++) {
            if (map[i] >= 0) {
                continue;
            }
            for (int j = 0; j < size; j++) {
                int d2 = 0;
                for (int k = 0; k < 8; k++) {
                    int diff = grid[8 * j + k] - (2 * (i >> 2 * k & 3) + 1);
                    d2 += diff * diff;
                }
                byDistance[j] = (long) d2 << 32 | j;
            }
            Arrays.sort(byDistance);
            if (used + size + 1 > lists.length) {
                lists = Arrays.copyOf(lists, lists.length * 2);
            }
            map[i] = -(used + 1);
            int start = used++;
            int n = 0;
            int have = 1;
            long d2 = byDistance[0] >>> 32;
            for (int j = 0; j < size; j++) {
                long dj = byDistance[j] >>> 32;
                if (dj > d2) {
                    if (have == nwant) {
                        break;
                    }
                    d2 = dj;
                    have++;
                }
                lists[used++] = (short) byDistance[j];
                n++;
            }
            lists[start] = (short) n;
        }
        this.neighbours = Arrays.copyOf(lists, used);
    }

    private static int[] distinct(byte[] magnitudes) {
        return java.util.stream.IntStream.range(0, magnitudes.length).map(i -> magnitudes[i] & 0xFF).distinct().sorted().toArray();
    }

    /**
     * ggml's iq2_find_best_neighbour: among the neighbours of the off-grid point {@code point}, the entry with the
     * least Σ w·(scale·q − x)² over the group x[xOff ..], w[wOff ..]; its levels go to L[lOff ..] and its index is returned.
     */
    int bestNeighbour(int point, float[] x, int xOff, float[] w, int wOff, float scale, byte[] L, int lOff) {
        int start = -map[point] - 1;
        int count = neighbours[start];
        float best = Float.MAX_VALUE;
        int index = -1;
        for (int j = 1; j <= count; j++) {
            int e = neighbours[start + j];
            float d2 = 0;
            for (int i = 0; i < 8; i++) {
                float q = grid[8 * e + i];
                float diff = scale * q - x[xOff + i];
                d2 += w[wOff + i] * diff * diff;
            }
            if (d2 < best) {
                best = d2;
                index = e;
            }
        }
        for (int i = 0; i < 8; i++) {
            L[lOff + i] = (byte) ((grid[8 * index + i] - 1) / 2);
        }
        return index;
    }
}
