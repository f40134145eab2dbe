package dev.qforge.quant.gptq;

import dev.qforge.QforgeException;
import dev.qforge.kernel.Parallel;
import dev.qforge.kernel.VectorMath;
import dev.qforge.kernel.blocks.BlockFormat;
import dev.qforge.kernel.blocks.LevelGrid;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.DoubleAdder;
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
 * <p>Updates are lazy in batches of columns (the reference code's 128): within a batch the error is applied
 * at once, to the columns after the batch once per batch. Rows are independent given the factor, so they
 * run in parallel in bands.
 */
public final class GptqQuantizer {
    /** Rows per parallel task. */
    private static final int BAND = 8;

    /**
     * @param dampFraction λ = dampFraction · mean(diag H) is added to the diagonal (the reference's percdamp, 0.01)
     * @param dampRaises   how many times λ may be multiplied by 10 when H + λI is not positive definite
     */
    public record Settings(double dampFraction, int dampRaises) {
        public static final Settings DEFAULT = new Settings(0.01, 6);

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
     * Quantizes the rows × cols weights {@code w} (row-major; overwritten with work values) into
     * {@code out} (rows × format.rowBytes(cols) bytes) for inputs whose Hessian is {@code h}.
     *
     * @param name     the tensor, for messages
     * @param warnings told when the damping had to be raised
     */
    public static Result quantize(String name, float[] w, int rows, int cols, Hessian h, BlockFormat format,
                                  MemorySegment out, Settings settings, Consumer<String> warnings) {
        LevelGrid grid = format.levelGrid();
        if (grid == null) {
            throw new QforgeException(name + ": GPTQ cannot round onto " + format.name() + " (the format has no level grid)");
        }
        if (h.cols() != cols) {
            throw new IllegalArgumentException(name + ": Hessian of " + h.cols() + " columns for " + cols);
        }
        int bs = format.blockSize();
        if (cols % bs != 0) {
            throw new IllegalArgumentException(name + ": " + cols + " columns is not a multiple of " + format.name() + "'s block");
        }
        float[] hessian = h.sum().clone();
        float[] importance = h.meanSquares();
        double meanDiag = 0;
        for (int i = 0; i < cols; i++) {
            float d = hessian[i * cols + i];
            if (d == 0) {
                // A column no calibration token ever fed: its weights cannot matter, GPTQ zeroes them.
                hessian[i * cols + i] = 1;
                for (int r = 0; r < rows; r++) {
                    w[r * cols + i] = 0;
                }
            }
            meanDiag += hessian[i * cols + i];
        }
        meanDiag /= cols;
        double fraction = settings.dampFraction();
        float[] u = null;
        for (int attempt = 0; attempt <= settings.dampRaises(); attempt++) {
            u = InverseCholesky.of(hessian, cols, fraction * meanDiag);
            if (u != null) {
                break;
            }
            if (attempt < settings.dampRaises()) {
                warnings.accept(name + ": Hessian + " + fraction + "·mean(diag) is not positive definite; damping raised to "
                        + fraction * 10);
                fraction *= 10;
            }
        }
        if (u == null) {
            throw new QforgeException(name + ": the Hessian stays singular with damping " + fraction
                    + "·mean(diag); the calibration inputs may be degenerate (too few tokens?)");
        }
        float[][] blockImportance = new float[cols / bs][bs];
        for (int b = 0; b < cols / bs; b++) {
            System.arraycopy(importance, b * bs, blockImportance[b], 0, bs);
        }
        int batch = bs >= 128 ? bs : 128 / bs * bs;
        long rowBytes = format.rowBytes(cols);
        DoubleAdder loss = new DoubleAdder();
        float[] factor = u;
        int bands = (rows + BAND - 1) / BAND;
        Parallel.forRange(bands, band -> {
            int r0 = band * BAND;
            int n = Math.min(BAND, rows - r0);
            loss.add(sweep(w, r0, n, cols, factor, format, grid, blockImportance, batch, out, rowBytes));
        });
        return new Result(loss.sum(), fraction * meanDiag, fraction);
    }

    /** The column sweep over rows [r0, r0 + n); returns their loss. */
    private static double sweep(float[] w, int r0, int n, int cols, float[] u, BlockFormat format, LevelGrid grid,
                                float[][] blockImportance, int batch, MemorySegment out, long rowBytes) {
        int bs = format.blockSize();
        int bpb = format.bytesPerBlock();
        float[] codebook = grid.codebook();
        float[] err = new float[n * batch];
        float[] scale = new float[n * bs];
        float[] offset = new float[n * bs];
        int[] levels = new int[n * bs];
        float[] blockScale = new float[bs];
        float[] blockOffset = new float[bs];
        double loss = 0;
        for (int j0 = 0; j0 < cols; j0 += batch) {
            int j1 = Math.min(j0 + batch, cols);
            for (int j = j0; j < j1; j++) {
                int inBlock = j % bs;
                if (inBlock == 0) {
                    for (int r = 0; r < n; r++) {
                        long at = (long) (r0 + r) * rowBytes + (long) (j / bs) * bpb;
                        format.quantize(w, (r0 + r) * cols + j, bs, blockImportance[j / bs], out, at);
                        grid.grid(out, at, bs, blockScale, blockOffset);
                        System.arraycopy(blockScale, 0, scale, r * bs, bs);
                        System.arraycopy(blockOffset, 0, offset, r * bs, bs);
                    }
                }
                float d = u[j * cols + j];
                int rest = j1 - j - 1;
                for (int r = 0; r < n; r++) {
                    int wi = (r0 + r) * cols + j;
                    float x = w[wi];
                    int g = r * bs + inBlock;
                    int k = grid.nearest(x, scale[g], offset[g]);
                    levels[g] = k;
                    float q = scale[g] * codebook[k] + offset[g];
                    float e = (x - q) / d;
                    loss += (double) e * e;
                    err[r * batch + (j - j0)] = e;
                    if (rest > 0) {
                        VectorMath.axpy(-e, u, j * cols + j + 1, w, wi + 1, rest);
                    }
                }
                if (inBlock == bs - 1) {
                    for (int r = 0; r < n; r++) {
                        long at = (long) (r0 + r) * rowBytes + (long) (j / bs) * bpb;
                        grid.setLevels(out, at, bs, levels, r * bs);
                    }
                }
            }
            int tail = cols - j1;
            if (tail > 0) {
                for (int r = 0; r < n; r++) {
                    int wr = (r0 + r) * cols + j1;
                    for (int k = 0; k < j1 - j0; k++) {
                        VectorMath.axpy(-err[r * batch + k], u, (j0 + k) * cols + j1, w, wr, tail);
                    }
                }
            }
        }
        return loss;
    }
}
