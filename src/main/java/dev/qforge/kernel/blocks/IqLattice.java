package dev.qforge.kernel.blocks;

import java.util.Arrays;

/**
 * What ggml's searches over a lattice grid need (iq2xs_init_impl for the 8-wide grids of 2-bit levels,
 * iq3xs_init_impl for the 4-wide grids of 3-bit levels): each grid entry as odd levels 2l + 1, a map from any point
 * of the cube (its levels packed {@code bits} each) to its grid entry, and, for the points off the grid, the entries
 * nearest to them — every entry at the {@code nwant} smallest distances, in ggml's order (by distance, then by
 * index). The quantizers round a group to the nearest point of the cube, and when that point is off the grid choose
 * among its neighbours by weighted error.
 */
final class IqLattice {
    /** The 2-bit grids: points of 8 levels, indices up to 0xAAAA (every level at most 2). */
    static final int MAP_SIZE_2BIT = 43692;
    /** The 3-bit grids: points of 4 levels. */
    static final int MAP_SIZE_3BIT = 4096;

    final int size;
    /** Values per entry: 8 or 4. */
    final int width;
    private final int bits;
    /** Entry k's levels as 2l + 1, at [width·k, width·k + width). */
    final byte[] grid;
    /** Point → entry, or −(1 + the start of its neighbour list in {@link #neighbours}). */
    final int[] map;
    /** Lists: a count, then that many entry indices. */
    final short[] neighbours;

    /**
     * @param magnitudes the decoded grid (width magnitudes per entry, as {@link IqGrids} holds; every level occurs)
     * @param nwant      how many distinct nearest distances a neighbour list spans (ggml: 2 for IQ2_XXS/XS and
     *                   IQ3_XXS, 1 for IQ2_S, 3 for IQ1 and IQ3_S)
     */
    IqLattice(byte[] magnitudes, int width, int bits, int mapSize, int nwant) {
        this.width = width;
        this.bits = bits;
        this.size = magnitudes.length / width;
        int[] levels = distinct(magnitudes);
        this.grid = new byte[size * width];
        this.map = new int[mapSize];
        Arrays.fill(map, -1);
        for (int k = 0; k < size; k++) {
            int index = 0;
            for (int i = 0; i < width; i++) {
                int l = Arrays.binarySearch(levels, magnitudes[width * k + i] & 0xFF);
                grid[width * k + i] = (byte) (2 * l + 1);
                index |= l << bits * i;
            }
            map[index] = k;
        }
        int levelMask = (1 << bits) - 1;
        short[] lists = new short[1 << 20];
        int used = 0;
        long[] byDistance = new long[size];
        for (int i = 0; i < mapSize; i++) {
            if (map[i] >= 0) {
                continue;
            }
            for (int j = 0; j < size; j++) {
                int d2 = 0;
                for (int k = 0; k < width; k++) {
                    int diff = grid[width * j + k] - (2 * (i >> bits * k & levelMask) + 1);
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
     * One group of {@code width} magnitudes x[xOff ..] snapped at inverse scale {@code id}: each rounded to the odd
     * level nearest x·id (levels 0 to maxLevel), and the point, when it is off the grid, replaced by its neighbour
     * of least error weighted by w at scale {@code scale} (ggml's steps, in its order). The entry's levels go to
     * L[lOff ..]. Returns the entry, or −(entry + 1) when the rounded point was off the grid.
     */
    int snap(float[] x, int xOff, float[] w, float id, float scale, int maxLevel, byte[] L, int lOff) {
        int u = 0;
        for (int i = 0; i < width; i++) {
            int l = QuantMath.nearestInt(0.5f * (id * x[xOff + i] - 1));
            l = Math.max(0, Math.min(maxLevel, l));
            L[lOff + i] = (byte) l;
            u |= l << bits * i;
        }
        if (map[u] >= 0) {
            return map[u];
        }
        return -(bestNeighbour(u, x, xOff, w, xOff, scale, L, lOff) + 1);
    }

    /** The entry the levels L[lOff ..] name; they are on the grid once a search is done, or the search is wrong. */
    int entryOf(byte[] L, int lOff, String format) {
        int entry = map[point(L, lOff)];
        if (entry < 0) {
            throw new IllegalStateException(format + ": a group is not on the grid");
        }
        return entry;
    }

    /** The point of levels L[lOff .. lOff + width), packed. */
    int point(byte[] L, int lOff) {
        int u = 0;
        for (int i = 0; i < width; i++) {
            u |= L[lOff + i] << bits * i;
        }
        return u;
    }

    /**
     * ggml's iq2_find_best_neighbour (iq3_…): among the neighbours of the off-grid point {@code point}, the entry with the
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
            for (int i = 0; i < width; i++) {
                float q = grid[width * e + i];
                float diff = scale * q - x[xOff + i];
                d2 += w[wOff + i] * diff * diff;
            }
            if (d2 < best) {
                best = d2;
                index = e;
            }
        }
        for (int i = 0; i < width; i++) {
            L[lOff + i] = (byte) ((grid[width * index + i] - 1) / 2);
        }
        return index;
    }
}
