package dev.qforge.hub;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.qforge.QforgeException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

/**
 * model.safetensors.index.json of a sharded checkpoint: its weight_map names which .safetensors files
 * hold the model, which is how a pull knows to skip extra copies of the weights.
 */
final class ShardIndex {
    static final String FILE_NAME = "model.safetensors.index.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ShardIndex() {
    }

    /** The shard file names in the index's weight_map. */
    static Set<String> shards(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (JsonProcessingException e) {
            throw new QforgeException(index + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new QforgeException(index + ": cannot read: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject() || map.isEmpty()) {
            throw new QforgeException(index + ": has no 'weight_map' naming the weight shards");
        }
        Set<String> shards = new TreeSet<>();
        for (JsonNode file : map) {
            if (!file.isTextual() || !file.asText().endsWith(".safetensors")) {
                throw new QforgeException(index + ": weight_map entry " + file + " is not a .safetensors file name");
            }
            shards.add(file.asText());
        }
        return shards;
    }
}
