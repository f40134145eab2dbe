package dev.qforge.hub;

import java.util.Collection;
import java.util.List;
import java.util.Set;

/**
 * Which repo files a pull fetches. By default only what qforge reads: the configs, the tokenizer and
 * the safetensors weights at the top level of the repo. Repos often also carry the same weights as
 * pytorch_model.bin, GGUF, ONNX, Flax or TF files, or a second copy under original/, which would
 * multiply the download for nothing.
 *
 * <p>--include adds files on top of that default and --exclude removes files from the result (exclude
 * wins), both as {@link Glob}s matched against the repo-relative path.
 */
public final class FileSelection {
    /** Small files a loader may read; absent ones are simply not in the listing. */
    static final Set<String> DEFAULT_FILES = Set.of(
            "config.json",
            "generation_config.json",
            "tokenizer.json",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "tokenizer.model",
            // Tokenizers saved without tokenizer.json, and chat templates saved outside tokenizer_config.json.
            "vocab.json",
            "merges.txt",
            "added_tokens.json",
            "chat_template.jinja",
            ShardIndex.FILE_NAME);

    private final List<Glob> include;
    private final List<Glob> exclude;

    public FileSelection(List<Glob> include, List<Glob> exclude) {
        this.include = List.copyOf(include);
        this.exclude = List.copyOf(exclude);
    }

    public static FileSelection defaults() {
        return new FileSelection(List.of(), List.of());
    }

    public static FileSelection of(Collection<String> include, Collection<String> exclude) {
        return new FileSelection(include.stream().map(Glob::of).toList(), exclude.stream().map(Glob::of).toList());
    }

    /**
     * @param shards the weight files named by model.safetensors.index.json, or null when there is no
     *               index. With an index, other top-level .safetensors files are left out: some repos
     *               (Mistral's, for one) also ship a consolidated copy of all the weights beside the shards.
     */
    public boolean selects(String path, Set<String> shards) {
        boolean wanted = isDefault(path, shards) || include.stream().anyMatch(g -> g.matches(path));
        return wanted && exclude.stream().noneMatch(g -> g.matches(path));
    }

    public List<String> select(Collection<String> paths, Set<String> shards) {
        return paths.stream().filter(p -> selects(p, shards)).toList();
    }

    static boolean isDefault(String path, Set<String> shards) {
        if (path.indexOf('/') >= 0) {
            return false;
        }
        if (path.endsWith(".safetensors")) {
            return shards == null || shards.contains(path);
        }
        return DEFAULT_FILES.contains(path);
    }
}
