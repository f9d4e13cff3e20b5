package dev.kvasir.models.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face {@code tokenizer.json}, encoded by the Rust tokenizers library through DJL (its
 * native library ships inside the DJL jar, so this works offline). Token strings, bytes and the
 * special tokens are read from the JSON here, so decoding follows the same byte rules as the GGUF
 * tokenizers and the incremental detokenizer agrees with {@link #decode}.
 *
 * <p>Special tokens from user text: the library always matches added-token strings, so text that
 * may not produce them is cut inside each such string and the parts are encoded separately.
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {

    private static final Set<String> END_OF_TURN_TEXTS = Set.of(
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>");

    private final Path source;
    private final HuggingFaceTokenizer library;
    private final String[] tokens;
    private final boolean[] special;
    private final byte[][] bytesById;
    private final SpecialTokenMatcher addedTokens;
    private final boolean spaceForPrefix;
    private final int bosId;
    private final boolean addsBos;
    private final int[] stopIds;

    private HfTokenizer(Path source, HuggingFaceTokenizer library, String[] tokens, boolean[] special, byte[][] bytesById,
            SpecialTokenMatcher addedTokens, boolean spaceForPrefix, int bosId, boolean addsBos, int[] stopIds) {
        this.source = source;
        this.library = library;
        this.tokens = tokens;
        this.special = special;
        this.bytesById = bytesById;
        this.addedTokens = addedTokens;
        this.spaceForPrefix = spaceForPrefix;
        this.bosId = bosId;
        this.addsBos = addsBos;
        this.stopIds = stopIds;
    }

    /**
     * Opens {@code tokenizerJson}; BOS and EOS come from {@code tokenizer_config.json} beside it
     * when there is one. Throws naming the file when it cannot be read or understood.
     */
    public static HfTokenizer open(Path tokenizerJson) {
        try {
            ObjectMapper json = new ObjectMapper();
            JsonNode root = json.readTree(tokenizerJson.toFile());
            Map<String, Integer> vocab = new HashMap<>();
            JsonNode model = root.path("model");
            JsonNode modelVocab = model.path("vocab");
            if (modelVocab.isObject()) {
                modelVocab.properties().forEach(e -> vocab.put(e.getKey(), e.getValue().asInt()));
            } else if (modelVocab.isArray()) { // Unigram: [[piece, score], ...]
                for (int id = 0; id < modelVocab.size(); id++) vocab.put(modelVocab.get(id).get(0).asText(), id);
            } else {
                throw new IllegalArgumentException("no model.vocab");
            }
            Map<String, Integer> added = new HashMap<>();
            Set<Integer> specialIds = new LinkedHashSet<>();
            for (JsonNode token : root.path("added_tokens")) {
                int id = token.path("id").asInt();
                String content = token.path("content").asText();
                vocab.put(content, id);
                added.put(content, id);
                if (token.path("special").asBoolean(false)) specialIds.add(id);
            }
            int size = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
            String[] tokens = new String[size];
            Arrays.fill(tokens, "");
            vocab.forEach((text, id) -> tokens[id] = text);
            boolean[] special = new boolean[size];
            specialIds.forEach(id -> special[id] = true);

            JsonNode decoder = root.path("decoder");
            boolean byteLevel = mentionsType(decoder, "ByteLevel");
            byte[][] bytesById = new byte[size][];
            for (int id = 0; id < size; id++) {
                bytesById[id] = special[id] ? new byte[0]
                        : added.containsKey(tokens[id]) && added.get(tokens[id]) == id ? tokens[id].getBytes(StandardCharsets.UTF_8)
                        : byteLevel ? byteLevelBytes(tokens[id]) : sentencePieceBytes(tokens[id]);
            }
            boolean spaceForPrefix = !byteLevel && (stripsLeadingSpace(decoder) || prependsMetaspace(decoder));

            Map<String, Integer> byText = new HashMap<>(vocab);
            JsonNode config = readConfig(json, tokenizerJson.resolveSibling("tokenizer_config.json"));
            int bos = tokenId(byText, config.path("bos_token"));
            int eos = tokenId(byText, config.path("eos_token"));
            Set<Integer> stops = new LinkedHashSet<>();
            if (eos >= 0) stops.add(eos);
            for (int id : specialIds) if (END_OF_TURN_TEXTS.contains(tokens[id])) stops.add(id);
            JsonNode addBosKey = config.path("add_bos_token");
            boolean addBos = addBosKey.isBoolean() ? addBosKey.asBoolean() : templateStartsWith(root.path("post_processor"), tokens, bos);

            HuggingFaceTokenizer library = HuggingFaceTokenizer.newInstance(tokenizerJson,
                    Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
            return new HfTokenizer(tokenizerJson, library, tokens, special, bytesById, new SpecialTokenMatcher(added),
                    spaceForPrefix, bos, addBos && bos >= 0, stops.stream().mapToInt(Integer::intValue).toArray());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer " + tokenizerJson + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot load tokenizer " + tokenizerJson + ": " + e.getMessage(), e);
        }
    }

    @Override
    public int[] encode(List<TextSpan> spans, boolean addBos) {
        // Join everything; remember where untrusted text holds an added-token string, and cut there.
        StringBuilder joined = new StringBuilder();
        List<Integer> cuts = new ArrayList<>();
        for (TextSpan span : spans) {
            String text = Utf8.wellFormed(span.text());
            if (!span.parseSpecial()) {
                for (int[] occurrence : addedTokens.occurrences(text)) cuts.add(joined.length() + occurrence[0] + 1);
            }
            joined.append(text);
        }
        IntArrayBuilder out = new IntArrayBuilder();
        if (addBos && addsBos) out.add(bosId);
        int from = 0;
        for (int cut : cuts.stream().distinct().sorted().toList()) {
            encodePiece(joined.substring(from, cut), out);
            from = cut;
        }
        encodePiece(joined.substring(from), out);
        return out.toArray();
    }

    private void encodePiece(String text, IntArrayBuilder out) {
        if (text.isEmpty()) return;
        for (long id : library.encode(text, false, false).getIds()) out.add((int) id);
    }

    @Override
    public byte[] tokenBytes(int id) {
        return bytesById[checkId(id)].clone();
    }

    @Override
    public String tokenString(int id) {
        return tokens[checkId(id)];
    }

    @Override
    public boolean isSpecial(int id) {
        return special[checkId(id)];
    }

    @Override
    public int vocabSize() {
        return tokens.length;
    }

    @Override
    public int bosId() {
        return bosId;
    }

    @Override
    public int[] stopTokenIds() {
        return stopIds.clone();
    }

    @Override
    public boolean addsSpacePrefix() {
        return spaceForPrefix;
    }

    public Path source() {
        return source;
    }

    @Override
    public void close() {
        library.close();
    }

    private int checkId(int id) {
        if (id < 0 || id >= tokens.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + source + " (0.." + (tokens.length - 1) + ")");
        }
        return id;
    }

    private static byte[] byteLevelBytes(String token) {
        byte[] bytes = ByteLevel.decode(token);
        return bytes != null ? bytes : token.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] sentencePieceBytes(String token) {
        int b = LlamaSpmTokenizer.parseByteToken(token);
        if (b >= 0) return new byte[] {(byte) b};
        return token.replace(LlamaSpmTokenizer.SPACE_MARK, ' ').getBytes(StandardCharsets.UTF_8);
    }

    private static boolean mentionsType(JsonNode node, String type) {
        if (type.equals(node.path("type").asText())) return true;
        for (JsonNode child : node.path("decoders")) if (mentionsType(child, type)) return true;
        return false;
    }

    /** A {@code Strip} decoder that removes one leading char: SentencePiece's dummy prefix. */
    private static boolean stripsLeadingSpace(JsonNode decoder) {
        if ("Strip".equals(decoder.path("type").asText()) && decoder.path("start").asInt() > 0) return true;
        for (JsonNode child : decoder.path("decoders")) if (stripsLeadingSpace(child)) return true;
        return false;
    }

    private static boolean prependsMetaspace(JsonNode decoder) {
        if ("Metaspace".equals(decoder.path("type").asText())) {
            String scheme = decoder.path("prepend_scheme").asText("");
            return decoder.path("add_prefix_space").asBoolean(false) || scheme.equals("always") || scheme.equals("first");
        }
        for (JsonNode child : decoder.path("decoders")) if (prependsMetaspace(child)) return true;
        return false;
    }

    /** Whether the post-processor's single-sequence template starts with {@code bos}: how HF adds BOS by default. */
    private static boolean templateStartsWith(JsonNode processor, String[] tokens, int bos) {
        if (bos < 0) return false;
        if ("TemplateProcessing".equals(processor.path("type").asText())) {
            return tokens[bos].equals(processor.path("single").path(0).path("SpecialToken").path("id").asText(null));
        }
        for (JsonNode child : processor.path("processors")) if (templateStartsWith(child, tokens, bos)) return true;
        return false;
    }

    private static JsonNode readConfig(ObjectMapper json, Path config) throws IOException {
        return Files.isRegularFile(config) ? json.readTree(config.toFile()) : json.createObjectNode();
    }

    /** A token named in tokenizer_config.json, as a string or as {@code {"content": ...}}. */
    private static int tokenId(Map<String, Integer> byText, JsonNode value) {
        String text = value.isTextual() ? value.asText() : value.path("content").asText(null);
        Integer id = text == null ? null : byText.get(text);
        return id == null ? -1 : id;
    }
}
