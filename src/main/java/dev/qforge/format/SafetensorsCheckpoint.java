package dev.qforge.format;

import com.fasterxml.jackson.databind.JsonNode;
import dev.qforge.QforgeException;
import dev.qforge.tensor.Tensor;
import dev.qforge.tensor.TensorStore;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The weights of a Hugging Face model: one {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}. Every shard is memory-mapped; nothing is copied.
 */
public final class SafetensorsCheckpoint implements TensorStore {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path source;
    private final List<SafetensorsFile> files;
    private final Map<String, Tensor> tensors;

    private SafetensorsCheckpoint(Path source, List<SafetensorsFile> files, Map<String, Tensor> tensors) {
        this.source = source;
        this.files = files;
        this.tensors = tensors;
    }

    /** Opens a model directory, an index.json, or a single .safetensors file. */
    public static SafetensorsCheckpoint open(Path path) {
        if (Files.isDirectory(path)) {
            Path index = path.resolve(INDEX_FILE);
            if (Files.exists(index)) {
                return openSharded(index);
            }
            Path single = path.resolve(SINGLE_FILE);
            if (Files.exists(single)) {
                return openFiles(path, List.of(single));
            }
            try (var list = Files.list(path)) {
                List<Path> any = list.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
                if (any.isEmpty()) {
                    throw new QforgeException(path + ": no " + SINGLE_FILE + " or " + INDEX_FILE + " in this directory");
                }
                return openFiles(path, any);
            } catch (java.io.IOException e) {
                throw new QforgeException(path + ": cannot list directory: " + e.getMessage());
            }
        }
        if (path.getFileName().toString().endsWith(".index.json")) {
            return openSharded(path);
        }
        return openFiles(path, List.of(path));
    }

    private static SafetensorsCheckpoint openSharded(Path index) {
        JsonNode json = JsonFiles.readObject(index);
        JsonNode weightMap = json.get("weight_map");
        if (weightMap == null || !weightMap.isObject() || weightMap.isEmpty()) {
            throw new QforgeException(index + ": no weight_map");
        }
        Map<String, String> shardOf = new LinkedHashMap<>();
        List<String> shardNames = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String shard = e.getValue().asText();
            if (shard.isEmpty() || shard.contains("/") || shard.contains("\\") || shard.equals("..")) {
                throw new QforgeException(index + ": weight_map entry '" + e.getKey() + "' names an invalid shard '" + shard + "'");
            }
            shardOf.put(e.getKey(), shard);
            if (!shardNames.contains(shard)) {
                shardNames.add(shard);
            }
        }
        Path dir = index.toAbsolutePath().getParent();
        List<Path> shards = new ArrayList<>();
        for (String name : shardNames) {
            Path shard = dir.resolve(name);
            if (!Files.exists(shard)) {
                throw new QforgeException(index + ": shard " + name + " is missing");
            }
            shards.add(shard);
        }
        SafetensorsCheckpoint checkpoint = openFiles(index, shards);
        for (Map.Entry<String, String> e : shardOf.entrySet()) {
            if (!checkpoint.contains(e.getKey())) {
                checkpoint.close();
                throw new QforgeException(index + ": tensor '" + e.getKey() + "' is listed in " + e.getValue() + " but not found there");
            }
        }
        return checkpoint;
    }

    private static SafetensorsCheckpoint openFiles(Path source, List<Path> paths) {
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        try {
            for (Path p : paths) {
                SafetensorsFile f = SafetensorsFile.open(p);
                files.add(f);
                for (Map.Entry<String, Tensor> e : f.tensors().entrySet()) {
                    if (tensors.putIfAbsent(e.getKey(), e.getValue()) != null) {
                        throw new QforgeException(p + ": tensor '" + e.getKey() + "' also appears in another shard");
                    }
                }
            }
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
        return new SafetensorsCheckpoint(source, files, tensors);
    }

    @Override
    public Path source() {
        return source;
    }

    @Override
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new QforgeException(source + ": no tensor named '" + name + "'");
        }
        return t;
    }

    public List<SafetensorsFile> files() {
        return files;
    }

    /** The elements of all its tensors: the model's weights, as bits-per-weight figures count them. */
    public long elementCount() {
        long n = 0;
        for (Tensor t : tensors.values()) {
            n += t.elementCount();
        }
        return n;
    }

    /** The bytes of the safetensors files in {@code dir}: a checkpoint's size on disk. */
    public static long fileBytes(Path dir) {
        try (var files = java.nio.file.Files.list(dir)) {
            long n = 0;
            for (Path f : files.filter(f -> f.toString().endsWith(".safetensors")).sorted().toList()) {
                n += java.nio.file.Files.size(f);
            }
            return n;
        } catch (java.io.IOException e) {
            throw new QforgeException(dir + ": cannot list: " + e.getMessage(), e);
        }
    }

    /** The element count of the checkpoint in {@code dir}. */
    public static long elementCount(Path dir) {
        try (SafetensorsCheckpoint c = open(dir)) {
            return c.elementCount();
        }
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
