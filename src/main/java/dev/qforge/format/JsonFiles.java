package dev.qforge.format;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.qforge.QforgeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Reading the small JSON files of a model directory, with errors that name the file. */
public final class JsonFiles {
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .build();

    private JsonFiles() {
    }

    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** The file's JSON object; a missing, unreadable or non-object file is a QforgeException naming it. */
    public static JsonNode readObject(Path file) {
        JsonNode node;
        try {
            node = MAPPER.readTree(Files.readAllBytes(file));
        } catch (NoSuchFileException e) {
            throw new QforgeException(file + ": no such file");
        } catch (JsonProcessingException e) {
            throw new QforgeException(file + ": invalid JSON: " + e.getOriginalMessage().lines().findFirst().orElse("")
                    + (e.getLocation() != null ? " (line " + e.getLocation().getLineNr() + ")" : ""));
        } catch (IOException e) {
            throw new QforgeException(file + ": cannot read: " + e.getMessage());
        }
        if (node == null || !node.isObject()) {
            throw new QforgeException(file + ": expected a JSON object");
        }
        return node;
    }
}
