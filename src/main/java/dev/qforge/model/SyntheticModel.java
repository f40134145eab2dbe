package dev.qforge.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qforge.QforgeException;
import dev.qforge.format.AtomicFile;
import dev.qforge.format.FloatEncoding;
import dev.qforge.format.JsonFiles;
import dev.qforge.format.PartialFiles;
import dev.qforge.format.SafetensorsCheckpoint;
import dev.qforge.format.SafetensorsWriter;
import dev.qforge.tensor.DType;
import dev.qforge.tokenizer.SyntheticTokenizerFiles;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Writes a model with random weights as a real Hugging Face directory: config.json,
 * generation_config.json, safetensors (sharded with an index when larger than the shard size) and a
 * byte-level tokenizer. Weights are N(0, 0.02) for matrices and 1 + N(0, 0.02) for norms, drawn from a
 * generator seeded by (seed, tensor name), so a tensor is the same whatever else the model holds, and
 * the same inputs give byte-identical files. The directory appears only when complete.
 */
public final class SyntheticModel {
    private static final double WEIGHT_STD = 0.02;

    private SyntheticModel() {
    }

    public static void write(ModelConfig config, DType dtype, long seed, long maxShardBytes, Path outDir,
                             Consumer<String> progress) {
        if (dtype != DType.F32 && dtype != DType.BF16 && dtype != DType.F16) {
            throw new QforgeException("--dtype " + dtype + " is not supported for synthetic models (F32, BF16 or F16)");
        }
        Path target = outDir.toAbsolutePath();
        if (Files.exists(target)) {
            throw new QforgeException(target + ": already exists; choose another --out or remove it");
        }
        Path partial = PartialFiles.partialPath(target);
        try {
            PartialFiles.begin(partial);
            Files.createDirectories(partial);
            writeContents(config, dtype, seed, maxShardBytes, partial, progress);
            Files.move(partial, target);
        } catch (IOException e) {
            PartialFiles.deleteTree(partial);
            throw new QforgeException(target + ": cannot write: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            PartialFiles.deleteTree(partial);
            throw e;
        } finally {
            PartialFiles.end(partial);
        }
    }

    private static void writeContents(ModelConfig config, DType dtype, long seed, long maxShardBytes, Path dir,
                                      Consumer<String> progress) {
        HfConfigWriter.write(config, dtype.name().equals("F32") ? "float32" : dtype == DType.BF16 ? "bfloat16" : "float16",
                dir.resolve("config.json"));
        ObjectNode generation = JsonFiles.mapper().createObjectNode();
        generation.put("bos_token_id", config.bosTokenId());
        generation.put("eos_token_id", config.eosTokenId());
        writeText(dir.resolve("generation_config.json"), generation.toPrettyString());
        SyntheticTokenizerFiles.write(dir, config.vocabSize(), config.maxPositions());

        List<List<TensorLayout.Spec>> shards = shard(TensorLayout.of(config), dtype, maxShardBytes);
        if (shards.size() == 1) {
            writeShard(shards.get(0), dtype, seed, dir.resolve(SafetensorsCheckpoint.SINGLE_FILE), progress);
            return;
        }
        ObjectNode index = JsonFiles.mapper().createObjectNode();
        long total = 0;
        ObjectNode weightMap = JsonFiles.mapper().createObjectNode();
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, shards.size());
            writeShard(shards.get(i), dtype, seed, dir.resolve(name), progress);
            for (TensorLayout.Spec s : shards.get(i)) {
                weightMap.put(s.name(), name);
                total += bytes(s, dtype);
            }
        }
        index.putObject("metadata").put("total_size", total);
        index.set("weight_map", weightMap);
        writeText(dir.resolve(SafetensorsCheckpoint.INDEX_FILE), index.toPrettyString());
    }

    private static List<List<TensorLayout.Spec>> shard(List<TensorLayout.Spec> specs, DType dtype, long maxShardBytes) {
        List<List<TensorLayout.Spec>> shards = new ArrayList<>();
        List<TensorLayout.Spec> current = new ArrayList<>();
        long size = 0;
        for (TensorLayout.Spec s : specs) {
            long b = bytes(s, dtype);
            if (!current.isEmpty() && size + b > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                size = 0;
            }
            current.add(s);
            size += b;
        }
        shards.add(current);
        return shards;
    }

    private static void writeShard(List<TensorLayout.Spec> specs, DType dtype, long seed, Path file, Consumer<String> progress) {
        SafetensorsWriter writer = new SafetensorsWriter().metadata("format", "pt");
        for (TensorLayout.Spec s : specs) {
            writer.add(s.name(), dtype, s.shape(), out -> {
                if (progress != null) {
                    progress.accept(s.name());
                }
                writeRandom(out, s, dtype, seed);
            });
        }
        writer.write(file);
    }

    /** Values of one tensor, generated and encoded a slice at a time so that huge tensors stream. */
    private static void writeRandom(OutputStream out, TensorLayout.Spec s, DType dtype, long seed) throws IOException {
        SplittableRandom random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + stableHash(s.name()));
        long count = 1;
        for (long d : s.shape()) {
            count *= d;
        }
        float[] slice = new float[(int) Math.min(count, 1 << 20)];
        for (long done = 0; done < count; done += slice.length) {
            int n = (int) Math.min(slice.length, count - done);
            for (int i = 0; i < n; i++) {
                double g = random.nextGaussian() * WEIGHT_STD;
                slice[i] = (float) (s.role() == TensorLayout.Role.NORM ? 1 + g : g);
            }
            switch (dtype) {
                case F32 -> FloatEncoding.writeF32(out, slice, 0, n);
                case BF16 -> FloatEncoding.writeBf16(out, slice, 0, n);
                default -> FloatEncoding.writeF16(out, slice, 0, n);
            }
        }
    }

    private static long bytes(TensorLayout.Spec s, DType dtype) {
        long n = dtype.byteSize();
        for (long d : s.shape()) {
            n *= d;
        }
        return n;
    }

    /** A hash of the name that is stable across JVMs (String.hashCode is, but say so explicitly). */
    private static long stableHash(String name) {
        long h = 1125899906842597L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = 31 * h + b;
        }
        return h;
    }

    private static void writeText(Path file, String text) {
        byte[] bytes = (text + "\n").getBytes(StandardCharsets.UTF_8);
        AtomicFile.write(file, out -> out.write(bytes));
    }

}
