package dev.qforge.quant.gptq;

import dev.qforge.QforgeException;
import dev.qforge.kernel.DenseMatrices;
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
        Hessian.Factor f = h.factor(settings.dampFraction(), settings.dampRaises(), name, warnings);
        float[] u = f.u();
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
        int batch = bs >= 128 ? bs : 128 / bs * bs;
        long rowBytes = format.rowBytes(cols);
        DoubleAdder loss = new DoubleAdder();
        float[] factor = u;
        int bands = (rows + BAND - 1) / BAND;
        float[] err = new float[rows * batch];
        long t0 = System.nanoTime();
        for (int j0 = 0; j0 < cols; j0 += batch) {
            int j1 = Math.min(j0 + batch, cols);
            int from = j0;
            Parallel.forRange(bands, band -> {
                int r0 = band * BAND;
                int n = Math.min(BAND, rows - r0);
                loss.add(sweep(w, r0, n, cols, factor, from, j1, format, grid, blockImportance, err, batch, out, rowBytes));
            });
            if (j1 < cols) {
                feedForward(w, rows, cols, factor, j0, j1, err, batch);
            }
        }
        GptqWork.TOTAL.sweep(System.nanoTime() - t0, rows, cols);
        return new Result(loss.sum(), f.lambda(), f.dampFraction());
    }

    /** Rows per matrix product of the lazy update (bounds its temporary to ROW_CHUNK × cols floats). */
    private static final int ROW_CHUNK = 1024;

    /**
     * The lazy update after a batch of columns [j0, j1): W[:, j1:] −= E · U[j0:j1, j1:], a matrix product
     * on the runtime's GEMM (E holds each row's scaled errors of the batch).
     */
    private static void feedForward(float[] w, int rows, int cols, float[] u, int j0, int j1, float[] err, int batch) {
        int width = j1 - j0;
        int tail = cols - j1;
        // The product's "weight" is U's block transposed: [tail × width].
        float[] ut = new float[tail * width];
        for (int k = 0; k < width; k++) {
            int uRow = (j0 + k) * cols + j1;
            for (int c = 0; c < tail; c++) {
                ut[c * width + k] = u[uRow + c];
            }
        }
        float[] e = new float[Math.min(ROW_CHUNK, rows) * width];
        for (int r0 = 0; r0 < rows; r0 += ROW_CHUNK) {
            int n = Math.min(ROW_CHUNK, rows - r0);
            for (int r = 0; r < n; r++) {
                System.arraycopy(err, (r0 + r) * batch, e, r * width, width);
            }
            float[] delta = DenseMatrices.timesTransposed(e, n, ut, tail);
            int start = r0;
            Parallel.forRange(n, r -> {
                int wr = (start + r) * cols + j1;
                for (int c = 0; c < tail; c++) {
                    w[wr + c] -= delta[r * tail + c];
                }
            });
        }
    }

    /**
     * The columns [j0, j1) of rows [r0, r0 + n): each weight rounded onto its block's grid, its scaled error
     * kept in err and applied at once to the batch's later columns. Returns the rows' loss.
     */
    private static double sweep(float[] w, int r0, int n, int cols, float[] u, int j0, int j1, BlockFormat format,
                                LevelGrid grid, float[][] blockImportance, float[] err, int batch, MemorySegment out,
                                long rowBytes) {
        int bs = format.blockSize();
        int bpb = format.bytesPerBlock();
        float[] codebook = grid.codebook();
        float[] scale = new float[n * bs];
        float[] offset = new float[n * bs];
        int[] levels = new int[n * bs];
        float[] blockScale = new float[bs];
        float[] blockOffset = new float[bs];
        double loss = 0;
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
                err[(r0 + r) * batch + (j - j0)] = e;
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
        return loss;
    }
}
