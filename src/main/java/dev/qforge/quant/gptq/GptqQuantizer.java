package dev.qforge.quant.gptq;

import dev.qforge.QforgeException;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.RankUpdate;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.LevelGrid;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * GPTQ (Frantar et al., 2022) with a block format of the table as its quantizer. Columns are quantized left
 * to right; the rounding error of each is spread over the columns not yet quantized through the inverse
 * Hessian's Cholesky factor, so the layer's output on the calibration inputs, not its weights, is what the
 * rounding preserves. When the sweep reaches a block of the format, the format chooses that block's scales
 * from the weights as they then stand, with the Hessian's diagonal as importance (what llama.cpp does with an
 * imatrix); each weight of the block is then rounded onto those scales' grid ({@link LevelGrid}) and its
 * error fed forward. The output is ordinary blocks of the format, which llama.cpp reads unchanged.
 *
 * <p>The lattice formats (IQ1_S … IQ3_S) have no grid per weight: their groups of 8 or 4 weights are entries of
 * a codebook, chosen together. For them the rounding step is the format's own codebook search over the whole
 * block (256 weights, with the Hessian's diagonal as importance) on the weights as the sweep leaves them when
 * it reaches the block; the block's errors are then fed forward column by column as for any format, so every
 * later block is chosen on weights that compensate for the earlier ones. (Within a block there is no
 * feedback: its entries and scales are chosen at once.) They sweep left to right even where act-order is asked
 * for: under act-order every block has a loud column in the first batch, so every block would be chosen before
 * any feedback had reached it (measured: no gain over the search alone). Only on an input already factored in
 * act-order for a matrix quantized before them, or wider than 4096 columns with act-order asked (where the Hessian
 * keeps no spare copy for a second factor), do they take that order, each block chosen when the sweep first reaches
 * one of its columns (so about as good as the search alone).
 *
 * <p>Updates are lazy, on two levels: within a sub-batch of 16 columns an error reaches the sub-batch's later
 * columns at once; the rest of its batch of 256 after the sub-batch, and the columns after the batch after the
 * batch, both as register-tiled products ({@link RankUpdate}). Rows are independent given the factor, so
 * each band of rows runs the whole sweep on its own thread, with no barrier between batches.
 */
public final class GptqQuantizer {
    /**
     * Bytes of working arrays per band of rows, at most (16 per weight: the weight, its grid's scale and
     * offset, its level): 64 MB, or a 32nd of the heap where the heap is small. Each band streams the whole
     * factor U from memory once, so bands should be tall: 64 MB is about 1000 rows of 4096 columns, where U's
     * traffic is a few per cent of the update's time (with 64-row bands it was a third).
     */
    private static final long BAND_BYTES = Math.min(64L << 20, Runtime.getRuntime().maxMemory() / 32);
    /** Columns per lazy batch, at least (a multiple of every block size); the reference code's is 128. */
    private static final int BATCH = 256;

    /**
     * @param dampFraction λ = dampFraction · mean(diag H) is added to the diagonal (the reference's percdamp, 0.01)
     * @param dampRaises   how many times λ may be multiplied by 10 when H + λI is not positive definite
     * @param actOrder     sweep the columns in decreasing order of their Hessian diagonal (the reference's
     *                     desc_act); the block scales are then all chosen first, from the weights as they are
     *                     (GPTQModel's static groups), since a block format's blocks are runs of columns
     */
    public record Settings(double dampFraction, int dampRaises, boolean actOrder) {
        /** qforge's default: 1 % damping, act-order (lower KLD at every type measured, docs/QUALITY.md). */
        public static final Settings DEFAULT = new Settings(0.01, 6, true);

        public Settings {
            if (!(dampFraction > 0) || dampFraction > 10) {
                throw new QforgeException("GPTQ damping must be in (0, 10], not " + dampFraction);
            }
        }
    }

    /** Σ (w − q)² / U[j][j]² over the matrix (GPTQ's loss, ×2) and the damping that was used. */
    public record Result(double loss, double lambda, double dampFraction) {
    }

    private GptqQuantizer() {
    }

    /**
     * Whether GPTQ can quantize to {@code format}: every format with a level grid, and the lattice formats, whose
     * blocks it rounds with the format's own search; not the plain floats (nothing to feed forward worth a sweep).
     */
    public static boolean supports(BlockFormat format) {
        return format.levelGrid() != null || format.canQuantize() && format.blockSize() > 1;
    }

    /**
     * Quantizes the rows × cols weights {@code w} (row-major; left as they were, or with dead columns zeroed)
     * into {@code out} (rows × format.rowBytes(cols) bytes) for inputs whose Hessian is {@code h}.
     *
     * @param name     the tensor, for messages
     * @param warnings told when the damping had to be raised
     */
    public static Result quantize(String name, float[] w, int rows, int cols, Hessian h, BlockFormat format,
                                  MemorySegment out, Settings settings, Consumer<String> warnings) {
        if (!supports(format)) {
            throw new QforgeException(name + ": GPTQ cannot round onto " + format.name()
                    + " (plain floats have no rounding for it to compensate)");
        }
        LevelGrid grid = format.levelGrid();
        if (h.cols() != cols) {
            throw new IllegalArgumentException(name + ": Hessian of " + h.cols() + " columns for " + cols);
        }
        int bs = format.blockSize();
        if (cols % bs != 0) {
            throw new IllegalArgumentException(name + ": " + cols + " columns is not a multiple of " + format.name() + "'s block");
        }
        // a lattice block gains from the feedback of the blocks before it, which act-order takes away (every block
        // has a loud column early in the sweep): lattices go left to right wherever that factor can be had
        Hessian.Factor f = grid != null
                ? h.factor(settings.dampFraction(), settings.dampRaises(), settings.actOrder(), name, warnings)
                : h.latticeFactor(settings.dampFraction(), settings.dampRaises(), settings.actOrder(), name, warnings);
        float[] importance = f.importance();
        for (int i = 0; i < cols; i++) {
            if (f.dead()[i]) {
                for (int r = 0; r < rows; r++) {
                    w[r * cols + i] = 0;
                }
            }
        }
        float[][] blockImportance = new float[cols / bs][bs];
        for (int b = 0; b < cols / bs; b++) {
            System.arraycopy(importance, b * bs, blockImportance[b], 0, bs);
        }
        Sweep sweep = new Sweep(w, cols, f.u(), f.order(), format, grid, blockImportance, out, format.rowBytes(cols),
                Math.max(BATCH, bs));
        // Rows are independent given the factor: each band of rows runs the whole sweep on its own, so no
        // thread waits for another between batches. Bands are as tall as BAND_BYTES allows, at most a thread's share.
        int perThread = (rows + Parallel.threads() - 1) / Parallel.threads();
        int tall = (int) Math.min(perThread, BAND_BYTES / (16L * cols));
        int band = Math.max(RankUpdate.MR, tall / RankUpdate.MR * RankUpdate.MR);
        int bands = (rows + band - 1) / band;
        double[] losses = new double[bands];
        long t0 = System.nanoTime();
        Parallel.forRange(bands, i -> losses[i] = sweep.band(i * band, Math.min(band, rows - i * band)));
        GptqWork.TOTAL.sweep(System.nanoTime() - t0, rows, cols);
        double loss = 0;
        for (double l : losses) {
            loss += l;
        }
        return new Result(loss, f.lambda(), f.dampFraction());
    }

    /** Columns per sub-batch: within one, errors spread by short scalar loops; after it, by {@link RankUpdate}. */
    private static final int SUB = 16;

    /** One matrix's sweep; {@link #band} runs it over some rows, with its own working copy of them. */
    private record Sweep(float[] w, int cols, float[] u, int[] order, BlockFormat format, LevelGrid grid,
                         float[][] blockImportance, MemorySegment out, long rowBytes, int batch) {

        /** Rows [r0, r0 + n): quantized into out. Returns their loss. */
        double band(int r0, int n) {
            int bs = format.blockSize();
            int bpb = format.bytesPerBlock();
            // the band's weights in sweep order (column p is the original column order[p])
            float[] wb = new float[n * cols];
            for (int r = 0; r < n; r++) {
                int src = (r0 + r) * cols;
                if (order == null) {
                    System.arraycopy(w, src, wb, r * cols, cols);
                } else {
                    for (int p = 0; p < cols; p++) {
                        wb[r * cols + p] = w[src + order[p]];
                    }
                }
            }
            // each weight's grid, in sweep order, and its chosen level, in the original order (for a lattice format,
            // the weight's final value in scale and nothing in the others)
            float[] scale = new float[n * cols];
            float[] offset = new float[n * cols];
            int[] levels = new int[n * cols];
            float[] blockScale = new float[bs];
            float[] blockOffset = new float[bs];
            int[] position = null;
            if (order != null) {
                position = new int[cols];
                for (int p = 0; p < cols; p++) {
                    position[order[p]] = p;
                }
            }
            // a lattice block under act-order: chosen when the sweep first reaches one of its columns
            boolean[] chosen = new boolean[cols / bs];
            float[] blockWeights = new float[bs];
            float[] blockValues = new float[bs];
            if (order != null && grid != null) {
                for (int r = 0; r < n; r++) {
                    for (int b = 0; b < cols / bs; b++) {
                        long at = (long) (r0 + r) * rowBytes + (long) b * bpb;
                        format.quantize(w, (r0 + r) * cols + b * bs, bs, blockImportance[b], out, at);
                        grid.grid(out, at, bs, blockScale, blockOffset);
                        for (int i = 0; i < bs; i++) {
                            scale[r * cols + position[b * bs + i]] = blockScale[i];
                            offset[r * cols + position[b * bs + i]] = blockOffset[i];
                        }
                    }
                }
            }
            float[] err = new float[n * batch];
            float[] codebook = grid != null ? grid.codebook() : null;
            int sub = gcd(SUB, bs);
            double loss = 0;
            for (int j0 = 0; j0 < cols; j0 += batch) {
                int j1 = Math.min(j0 + batch, cols);
                long t0 = System.nanoTime();
                for (int s0 = j0; s0 < j1; s0 += sub) {
                    int s1 = Math.min(s0 + sub, j1);
                    for (int j = s0; j < s1; j++) {
                        if (order == null && j % bs == 0) {
                            // A block's scales are chosen when the sweep reaches its first column, which starts a
                            // sub-batch: by then every finished column's error has reached the whole block.
                            for (int r = 0; r < n; r++) {
                                long at = (long) (r0 + r) * rowBytes + (long) (j / bs) * bpb;
                                format.quantize(wb, r * cols + j, bs, blockImportance[j / bs], out, at);
                                if (grid == null) {
                                    // a lattice block is final as written: its values stand in for the grid
                                    format.dequantize(out, at, bs, scale, r * cols + j);
                                    continue;
                                }
                                grid.grid(out, at, bs, blockScale, blockOffset);
                                System.arraycopy(blockScale, 0, scale, r * cols + j, bs);
                                System.arraycopy(blockOffset, 0, offset, r * cols + j, bs);
                            }
                        }
                        int uj = j * cols;
                        float d = u[uj + j];
                        int column = order == null ? j : order[j];
                        if (order != null && grid == null && !chosen[column / bs]) {
                            int b = column / bs;
                            chosen[b] = true;
                            for (int r = 0; r < n; r++) {
                                for (int i = 0; i < bs; i++) {
                                    blockWeights[i] = wb[r * cols + position[b * bs + i]];
                                }
                                long at = (long) (r0 + r) * rowBytes + (long) b * bpb;
                                format.quantize(blockWeights, 0, bs, blockImportance[b], out, at);
                                format.dequantize(out, at, bs, blockValues, 0);
                                for (int i = 0; i < bs; i++) {
                                    scale[r * cols + position[b * bs + i]] = blockValues[i];
                                }
                            }
                        }
                        for (int r = 0; r < n; r++) {
                            int wi = r * cols + j;
                            float x = wb[wi];
                            float q;
                            if (grid == null) {
                                q = scale[wi];
                            } else {
                                int k = grid.nearest(x, scale[wi], offset[wi]);
                                levels[r * cols + column] = k;
                                q = scale[wi] * codebook[k] + offset[wi];
                            }
                            float e = (x - q) / d;
                            loss += (double) e * e;
                            err[r * batch + (j - j0)] = e;
                            for (int c = j + 1; c < s1; c++) {
                                wb[wi + c - j] -= e * u[uj + c];
                            }
                        }
                    }
                    if (s1 < j1) {
                        RankUpdate.update(wb, 0, cols, err, s0 - j0, batch, 1, u, s0 * cols, cols, s1 - s0, n, s1, j1, -1f);
                    }
                }
                long t1 = System.nanoTime();
                GptqWork.TOTAL.batch(t1 - t0);
                if (j1 < cols) {
                    // the lazy update: the batch's errors reach every later column, W[:, j1:] −= E · U[j0:j1, j1:]
                    RankUpdate.update(wb, 0, cols, err, 0, batch, 1, u, j0 * cols, cols, j1 - j0, n, j1, cols, -1f);
                    GptqWork.TOTAL.update(System.nanoTime() - t1, 2L * n * (j1 - j0) * (cols - j1));
                }
            }
            for (int r = 0; grid != null && r < n; r++) {
                for (int b = 0; b < cols / bs; b++) {
                    grid.setLevels(out, (long) (r0 + r) * rowBytes + (long) b * bpb, bs, levels, r * cols + b * bs);
                }
            }
            return loss;
        }
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }
}
