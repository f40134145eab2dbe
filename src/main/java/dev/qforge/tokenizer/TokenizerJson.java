package dev.qforge.tokenizer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.qforge.QforgeException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Reads a Hugging Face fast tokenizer (tokenizer.json, with tokenizer_config.json and generation_config.json
 * when present) and assembles the {@link PipelineTokenizer} it describes. Only BPE models are supported; any
 * step type qforge does not implement is reported by name rather than silently ignored, because a skipped
 * normalizer or pre-tokenizer would give plausible but wrong ids.
 */
public final class TokenizerJson {
    public static final String TOKENIZER_JSON = "tokenizer.json";
    public static final String TOKENIZER_CONFIG_JSON = "tokenizer_config.json";
    public static final String GENERATION_CONFIG_JSON = "generation_config.json";

    /** transformers classes whose constructor rebuilds the post-processor from add_bos_token/add_eos_token. */
    private static final Set<String> BOS_FLAG_CLASSES = Set.of("LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer");

    /** Vocabulary keys are 150k distinct names read once: interning them as field names only costs time. */
    private static final ObjectMapper JSON = JsonMapper.builder(
            JsonFactory.builder().disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES).build()).build();

    private final Path path;

    private TokenizerJson(Path path) {
        this.path = path;
    }

    /** Loads the tokenizer of a model directory, or of a tokenizer.json file given directly. */
    public static Tokenizer load(Path modelDirOrFile) {
        boolean isFile = !Files.isDirectory(modelDirOrFile) && modelDirOrFile.toString().endsWith(".json");
        Path file = isFile ? modelDirOrFile : modelDirOrFile.resolve(TOKENIZER_JSON);
        Path dir = file.toAbsolutePath().getParent();
        JsonNode root = readJson(file, true);
        JsonNode config = readJson(dir.resolve(TOKENIZER_CONFIG_JSON), false);
        JsonNode generation = readJson(dir.resolve(GENERATION_CONFIG_JSON), false);
        return new TokenizerJson(file).build(root, config, generation, dir);
    }

    /** The parsed JSON object of file; null when optional and absent. */
    static JsonNode readJson(Path file, boolean required) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            if (!required) {
                return null;
            }
            throw new QforgeException(file + ": no such file (qforge needs the Hugging Face fast-tokenizer file)");
        } catch (IOException e) {
            throw new QforgeException(file + ": cannot read: " + e.getMessage(), e);
        }
        JsonNode node;
        try {
            node = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            String where = e.getLocation() == null ? ""
                    : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
            throw new QforgeException(file + ": invalid JSON" + where + ": " + firstLine(e.getOriginalMessage()), e);
        } catch (IOException e) {
            throw new QforgeException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (node == null || !node.isObject()) {
            throw new QforgeException(file + ": expected a JSON object at the top level");
        }
        return node;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private QforgeException fail(String problem) {
        return new QforgeException(path + ": " + problem);
    }

    private Tokenizer build(JsonNode root, JsonNode config, JsonNode generation, Path dir) {
        BpeModel model = model(root.get("model"));
        List<AddedToken> added = addedTokens(root.get("added_tokens"));
        Normalizer normalizer = normalizer(root.get("normalizer"));
        PreTokenizer preTokenizer = preTokenizer(root.get("pre_tokenizer"));
        Map<String, Integer> ids = new HashMap<>();
        for (AddedToken t : added) {
            ids.putIfAbsent(t.content(), t.id());
        }
        PostProcessor post = postProcessor(root.get("post_processor"), model, ids);
        Decoder decoder = decoder(root.get("decoder"));

        Path configPath = dir.resolve(TOKENIZER_CONFIG_JSON);
        Path generationPath = dir.resolve(GENERATION_CONFIG_JSON);
        OptionalInt bos = tokenOfConfig(config, "bos_token", model, ids, configPath);
        OptionalInt eos = tokenOfConfig(config, "eos_token", model, ids, configPath);
        List<Integer> generationEos = List.of();
        if (generation != null) {
            if (bos.isEmpty() && generation.path("bos_token_id").canConvertToInt()) {
                bos = OptionalInt.of(generation.get("bos_token_id").asInt());
            }
            generationEos = intOrList(generation.get("eos_token_id"), generationPath, "eos_token_id");
        }
        if (bos.isEmpty() && post.prefix().length > 0) {
            bos = OptionalInt.of(post.prefix()[0]); // no config: the token the template puts first is the BOS
        }
        if (eos.isEmpty() && !generationEos.isEmpty()) {
            eos = OptionalInt.of(generationEos.getFirst());
        }
        Set<Integer> eosIds = new LinkedHashSet<>();
        eos.ifPresent(eosIds::add);
        eosIds.addAll(generationEos);

        boolean cleanUp = false;
        if (config != null) {
            cleanUp = config.path("clean_up_tokenization_spaces").asBoolean(false);
            post = bosFlagsOverride(config, post, bos, eos);
        }
        return new PipelineTokenizer(model, added, normalizer, preTokenizer, post, decoder,
                new SpecialTokens(bos, eos, eosIds), cleanUp);
    }

    /**
     * transformers' LlamaTokenizerFast (and CodeLlama, Gemma) rebuild the template from add_bos_token (default
     * true) and add_eos_token (default false) when loaded, whatever tokenizer.json says; do the same.
     */
    private static PostProcessor bosFlagsOverride(JsonNode config, PostProcessor post, OptionalInt bos, OptionalInt eos) {
        String cls = config.path("tokenizer_class").asText("");
        if (cls.endsWith("Fast")) {
            cls = cls.substring(0, cls.length() - "Fast".length());
        }
        if (!BOS_FLAG_CLASSES.contains(cls)) {
            return post;
        }
        boolean addBos = config.path("add_bos_token").asBoolean(true);
        boolean addEos = config.path("add_eos_token").asBoolean(false);
        if ((addBos && bos.isEmpty()) || (addEos && eos.isEmpty())) {
            return post;
        }
        return new PostProcessor(addBos ? new int[]{bos.getAsInt()} : new int[0],
                addEos ? new int[]{eos.getAsInt()} : new int[0]);
    }

    private static OptionalInt tokenOfConfig(JsonNode config, String key, BpeModel model, Map<String, Integer> added,
                                             Path configPath) {
        if (config == null) {
            return OptionalInt.empty();
        }
        JsonNode node = config.get(key);
        String content;
        if (node == null || node.isNull()) {
            return OptionalInt.empty();
        } else if (node.isTextual()) {
            content = node.asText();
        } else if (node.isObject() && node.path("content").isTextual()) {
            content = node.get("content").asText();
        } else {
            throw new QforgeException(configPath + ": " + key + " must be a string or an object with \"content\"");
        }
        Integer id = added.get(content);
        if (id == null && model.id(content) >= 0) {
            id = model.id(content);
        }
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    private static List<Integer> intOrList(JsonNode node, Path file, String key) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (node.canConvertToInt()) {
            return List.of(node.asInt());
        }
        if (node.isArray()) {
            List<Integer> out = new ArrayList<>();
            for (JsonNode n : node) {
                if (!n.canConvertToInt()) {
                    throw new QforgeException(file + ": " + key + " must be an integer or a list of integers");
                }
                out.add(n.asInt());
            }
            return out;
        }
        throw new QforgeException(file + ": " + key + " must be an integer or a list of integers");
    }

    // ---- model ----------------------------------------------------------------------------------------------

    private BpeModel model(JsonNode node) {
        if (node == null || node.isNull()) {
            throw fail("no \"model\" section");
        }
        if (!node.isObject()) {
            throw fail("\"model\" must be an object");
        }
        String type = node.path("type").asText(node.has("merges") ? "BPE" : "");
        if (!type.equals("BPE")) {
            throw fail("model type '" + type + "' is not supported (qforge supports BPE tokenizers only)");
        }
        if (node.hasNonNull("dropout") && node.get("dropout").asDouble() != 0.0) {
            throw fail("BPE dropout is not supported (it makes encoding random)");
        }
        for (String key : List.of("continuing_subword_prefix", "end_of_word_suffix")) {
            if (node.hasNonNull(key) && !node.get(key).asText().isEmpty()) {
                throw fail("BPE " + key + " is not supported");
            }
        }
        JsonNode vocabNode = node.get("vocab");
        if (vocabNode == null || !vocabNode.isObject()) {
            throw fail("model.vocab must be an object of token → id");
        }
        Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
        for (Map.Entry<String, JsonNode> e : vocabNode.properties()) {
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                throw fail("model.vocab: id of '" + e.getKey() + "' is not a non-negative integer");
            }
            vocab.put(e.getKey(), e.getValue().asInt());
        }
        JsonNode mergesNode = node.get("merges");
        List<String[]> merges = new ArrayList<>(mergesNode == null ? 0 : mergesNode.size());
        if (mergesNode != null && !mergesNode.isNull()) {
            if (!mergesNode.isArray()) {
                throw fail("model.merges must be a list");
            }
            int i = 0;
            for (JsonNode m : mergesNode) {
                merges.add(merge(m, i++));
            }
        }
        String unk = node.hasNonNull("unk_token") ? node.get("unk_token").asText() : null;
        try {
            return new BpeModel(vocab, merges, unk, node.path("fuse_unk").asBoolean(false),
                    node.path("byte_fallback").asBoolean(false), node.path("ignore_merges").asBoolean(false));
        } catch (IllegalArgumentException e) {
            throw fail("model: " + e.getMessage());
        }
    }

    /** One merge, as "a b" (older files) or ["a", "b"] (tokenizers ≥ 0.20, allows spaces inside tokens). */
    private String[] merge(JsonNode m, int index) {
        if (m.isTextual()) {
            String[] parts = m.asText().split(" ", -1);
            if (parts.length != 2) {
                throw fail("model.merges[" + index + "] '" + m.asText() + "' is not two tokens separated by one space");
            }
            return parts;
        }
        if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
            return new String[]{m.get(0).asText(), m.get(1).asText()};
        }
        throw fail("model.merges[" + index + "] is neither \"a b\" nor [\"a\", \"b\"]");
    }

    private List<AddedToken> addedTokens(JsonNode node) {
        List<AddedToken> out = new ArrayList<>();
        if (node == null || node.isNull()) {
            return out;
        }
        if (!node.isArray()) {
            throw fail("added_tokens must be a list");
        }
        for (JsonNode t : node) {
            if (!t.path("id").canConvertToInt() || !t.path("content").isTextual()) {
                throw fail("added_tokens: each entry needs an integer \"id\" and a string \"content\"");
            }
            boolean special = t.path("special").asBoolean(false);
            out.add(new AddedToken(t.get("id").asInt(), t.get("content").asText(), special,
                    t.path("lstrip").asBoolean(false), t.path("rstrip").asBoolean(false),
                    t.path("single_word").asBoolean(false), t.path("normalized").asBoolean(!special)));
        }
        return out;
    }

    // ---- pipeline steps -------------------------------------------------------------------------------------

    private static String type(JsonNode node) {
        return node.path("type").asText("");
    }

    private QforgeException unsupported(String step, JsonNode node) {
        return fail(step + " type '" + type(node) + "' is not supported");
    }

    private Normalizer normalizer(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        return switch (type(node)) {
            case "Sequence" -> {
                List<Normalizer> steps = new ArrayList<>();
                for (JsonNode n : node.path("normalizers")) {
                    Normalizer step = normalizer(n);
                    if (step != null) {
                        steps.add(step);
                    }
                }
                yield new Normalizer.Sequence(steps);
            }
            case "Prepend" -> new Normalizer.Prepend(node.path("prepend").asText());
            case "Replace" -> {
                String content = node.path("content").asText();
                JsonNode pattern = node.path("pattern");
                if (pattern.has("String")) {
                    yield Normalizer.Replace.literal(pattern.get("String").asText(), content);
                }
                yield Normalizer.Replace.regex(regex(pattern, "normalizer Replace"), content);
            }
            case "NFC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFC);
            case "NFD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFD);
            case "NFKC" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKC);
            case "NFKD" -> new Normalizer.Unicode(java.text.Normalizer.Form.NFKD);
            case "Lowercase" -> new Normalizer.Lowercase();
            case "Strip" -> new Normalizer.Strip(node.path("strip_left").asBoolean(true),
                    node.path("strip_right").asBoolean(true));
            default -> throw unsupported("normalizer", node);
        };
    }

    private Pattern regex(JsonNode pattern, String where) {
        if (pattern.has("String")) {
            return Pattern.compile(Pattern.quote(pattern.get("String").asText()));
        }
        if (!pattern.path("Regex").isTextual()) {
            throw fail(where + ": pattern must be {\"String\": ...} or {\"Regex\": ...}");
        }
        String regex = pattern.get("Regex").asText();
        try {
            return PreTokenizer.compileRegex(regex);
        } catch (PatternSyntaxException e) {
            throw fail(where + ": regex " + regex + " does not compile: " + firstLine(e.getDescription()));
        }
    }

    private PreTokenizer preTokenizer(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        return switch (type(node)) {
            case "Sequence" -> {
                List<PreTokenizer> steps = new ArrayList<>();
                for (JsonNode n : node.path("pretokenizers")) {
                    PreTokenizer step = preTokenizer(n);
                    if (step != null) {
                        steps.add(step);
                    }
                }
                yield new PreTokenizer.Sequence(steps);
            }
            case "ByteLevel" -> new PreTokenizer.ByteLevel(node.path("add_prefix_space").asBoolean(true),
                    node.path("use_regex").asBoolean(true));
            case "Split" -> new PreTokenizer.Split(regex(node.path("pattern"), "pre_tokenizer Split"),
                    splitBehavior(node.path("behavior").asText("")), node.path("invert").asBoolean(false));
            case "Metaspace" -> new PreTokenizer.Metaspace(replacement(node), prependScheme(node),
                    node.path("split").asBoolean(true));
            case "Digits" -> new PreTokenizer.Digits(node.path("individual_digits").asBoolean(false));
            case "WhitespaceSplit" -> new PreTokenizer.WhitespaceSplit();
            case "Whitespace" -> new PreTokenizer.Whitespace();
            default -> throw unsupported("pre_tokenizer", node);
        };
    }

    private SplitBehavior splitBehavior(String name) {
        return switch (name) {
            case "Removed" -> SplitBehavior.REMOVED;
            case "Isolated" -> SplitBehavior.ISOLATED;
            case "MergedWithPrevious" -> SplitBehavior.MERGED_WITH_PREVIOUS;
            case "MergedWithNext" -> SplitBehavior.MERGED_WITH_NEXT;
            case "Contiguous" -> SplitBehavior.CONTIGUOUS;
            default -> throw fail("pre_tokenizer Split behavior '" + name + "' is not supported");
        };
    }

    private char replacement(JsonNode node) {
        String r = node.path("replacement").asText("\u2581");
        if (r.length() != 1) {
            throw fail("Metaspace replacement '" + r + "' must be one character");
        }
        return r.charAt(0);
    }

    /** prepend_scheme of newer files; older ones only have add_prefix_space (true = always). */
    private PreTokenizer.Metaspace.PrependScheme prependScheme(JsonNode node) {
        if (node.path("add_prefix_space").isBoolean() && !node.get("add_prefix_space").asBoolean()) {
            return PreTokenizer.Metaspace.PrependScheme.NEVER;
        }
        return switch (node.path("prepend_scheme").asText("always")) {
            case "always" -> PreTokenizer.Metaspace.PrependScheme.ALWAYS;
            case "first" -> PreTokenizer.Metaspace.PrependScheme.FIRST;
            case "never" -> PreTokenizer.Metaspace.PrependScheme.NEVER;
            default -> throw fail("Metaspace prepend_scheme '" + node.get("prepend_scheme").asText() + "' is not supported");
        };
    }

    private PostProcessor postProcessor(JsonNode node, BpeModel model, Map<String, Integer> added) {
        if (node == null || node.isNull()) {
            return PostProcessor.NONE;
        }
        return switch (type(node)) {
            case "ByteLevel" -> PostProcessor.NONE; // only adjusts offsets, which qforge does not report
            case "TemplateProcessing" -> template(node);
            case "Sequence" -> {
                // Each processor wraps what the earlier ones produced.
                List<Integer> prefix = new ArrayList<>();
                List<Integer> suffix = new ArrayList<>();
                for (JsonNode n : node.path("processors")) {
                    PostProcessor p = postProcessor(n, model, added);
                    for (int i = p.prefix().length - 1; i >= 0; i--) {
                        prefix.addFirst(p.prefix()[i]);
                    }
                    for (int id : p.suffix()) {
                        suffix.add(id);
                    }
                }
                yield new PostProcessor(toInts(prefix), toInts(suffix));
            }
            case "RobertaProcessing", "BertProcessing" -> new PostProcessor(
                    new int[]{specialPairId(node.path("cls"), "cls")}, new int[]{specialPairId(node.path("sep"), "sep")});
            default -> throw unsupported("post_processor", node);
        };
    }

    private int specialPairId(JsonNode pair, String name) {
        if (!pair.isArray() || pair.size() != 2 || !pair.get(1).canConvertToInt()) {
            throw fail("post_processor " + name + " must be [token, id]");
        }
        return pair.get(1).asInt();
    }

    /** TemplateProcessing's single-sequence template: special tokens before $A are the prefix, after it the suffix. */
    private PostProcessor template(JsonNode node) {
        JsonNode specials = node.path("special_tokens");
        List<Integer> prefix = new ArrayList<>();
        List<Integer> suffix = new ArrayList<>();
        boolean seenSequence = false;
        for (JsonNode piece : node.path("single")) {
            if (piece.has("Sequence")) {
                if (!piece.get("Sequence").path("id").asText("A").equals("A")) {
                    throw fail("post_processor TemplateProcessing: single template uses sequence "
                            + piece.get("Sequence").path("id").asText());
                }
                seenSequence = true;
            } else if (piece.has("SpecialToken")) {
                String name = piece.get("SpecialToken").path("id").asText();
                JsonNode special = specials.get(name);
                if (special == null || !special.path("ids").isArray()) {
                    throw fail("post_processor TemplateProcessing: special token '" + name + "' has no ids in special_tokens");
                }
                for (JsonNode id : special.get("ids")) {
                    (seenSequence ? suffix : prefix).add(id.asInt());
                }
            } else {
                throw fail("post_processor TemplateProcessing: unknown template piece " + piece);
            }
        }
        return new PostProcessor(toInts(prefix), toInts(suffix));
    }

    private static int[] toInts(List<Integer> list) {
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    private Decoder decoder(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        return switch (type(node)) {
            case "Sequence" -> {
                List<Decoder> steps = new ArrayList<>();
                for (JsonNode n : node.path("decoders")) {
                    Decoder step = decoder(n);
                    if (step != null) {
                        steps.add(step);
                    }
                }
                yield new Decoder.Sequence(steps);
            }
            case "Replace" -> {
                if (!node.path("pattern").path("String").isTextual()) {
                    throw fail("decoder Replace: only {\"String\": ...} patterns are supported");
                }
                yield new Decoder.Replace(node.get("pattern").get("String").asText(), node.path("content").asText());
            }
            case "ByteFallback" -> new Decoder.ByteFallback();
            case "Fuse" -> new Decoder.Fuse();
            case "Strip" -> {
                String content = node.path("content").asText(" ");
                if (content.length() != 1) {
                    throw fail("decoder Strip content '" + content + "' must be one character");
                }
                yield new Decoder.Strip(content.charAt(0), node.path("start").asInt(0), node.path("stop").asInt(0));
            }
            case "ByteLevel" -> new Decoder.ByteLevel();
            case "Metaspace" -> new Decoder.Metaspace(replacement(node),
                    prependScheme(node) != PreTokenizer.Metaspace.PrependScheme.NEVER);
            default -> throw unsupported("decoder", node);
        };
    }
}
