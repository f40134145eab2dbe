package dev.qforge.hub;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileSelectionTest {
    private static final List<String> REPO = List.of(
            ".gitattributes", "README.md", "config.json", "generation_config.json", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "model.safetensors",
            "pytorch_model.bin", "model.gguf", "onnx/model.onnx", "flax_model.msgpack", "tf_model.h5",
            "original/consolidated.pth", "original/model.safetensors", "training_args.bin");

    @Test
    void defaultsAreConfigTokenizerAndTopLevelSafetensors() {
        assertEquals(List.of("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "tokenizer.model", "model.safetensors"),
                FileSelection.defaults().select(REPO, null));
    }

    @Test
    void includeAddsAndExcludeRemoves() {
        FileSelection s = FileSelection.of(List.of("*.bin"), List.of("training_args.bin", "tokenizer.model"));
        List<String> picked = s.select(REPO, null);
        assertTrue(picked.contains("pytorch_model.bin"));
        assertFalse(picked.contains("training_args.bin"));
        assertFalse(picked.contains("tokenizer.model"));
        assertTrue(picked.contains("model.safetensors"));
    }

    @Test
    void folderPatternAndStarCrossesSlashes() {
        assertTrue(FileSelection.of(List.of("onnx/"), List.of()).selects("onnx/model.onnx", null));
        assertTrue(FileSelection.of(List.of("*.safetensors"), List.of()).selects("original/model.safetensors", null));
        assertFalse(FileSelection.defaults().selects("original/model.safetensors", null));
    }

    @Test
    void indexDecidesWhichSafetensorsAreWeights() {
        Set<String> shards = Set.of("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors");
        FileSelection s = FileSelection.defaults();
        assertTrue(s.selects("model-00001-of-00002.safetensors", shards));
        assertFalse(s.selects("consolidated.safetensors", shards));
        assertTrue(s.selects("consolidated.safetensors", null));
        assertTrue(FileSelection.of(List.of("consolidated.*"), List.of()).selects("consolidated.safetensors", shards));
    }

    @Test
    void globFollowsFnmatch() {
        assertTrue(Glob.of("model-0000?-of-*.safetensors").matches("model-00001-of-00004.safetensors"));
        assertTrue(Glob.of("*.[bp]in").matches("a.bin"));
        assertTrue(Glob.of("*.[!b]in").matches("a.pin"));
        assertFalse(Glob.of("*.[!b]in").matches("a.bin"));
        assertTrue(Glob.of("[a-c].txt").matches("b.txt"));
        assertTrue(Glob.of("a.(x)+").matches("a.(x)+"));
        assertFalse(Glob.of("a.json").matches("abjson"));
        assertTrue(Glob.of("[.txt").matches("[.txt"));
        assertTrue(Glob.of("[]]x").matches("]x"));
    }
}
