package dev.kvasir.models.loader;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.models.LlamaConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/** A Hugging Face model directory: config.json, tokenizer files and single or sharded safetensors. */
final class HfModelLoader {

    private static final ObjectMapper JSON = new ObjectMapper();

    private HfModelLoader() {}

    static LoadedModel load(Path dir) {
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new ModelFormatException(dir, "not a Hugging Face model directory: config.json is missing");
        }
        JsonNode config = readJson(configFile);
        Path tokenizerConfigFile = dir.resolve("tokenizer_config.json");
        JsonNode tokenizerConfig = Files.isRegularFile(tokenizerConfigFile) ? readJson(tokenizerConfigFile) : null;
        Path tokenizerJson = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tokenizerJson)) tokenizerJson = null;

        LlamaConfig llama = HfConfig.read(configFile, config, addedTokens(tokenizerConfig, tokenizerJson));

        Map<String, Object> metadata = new LinkedHashMap<>();
        config.fields().forEachRemaining(e -> metadata.put("hf.config." + e.getKey(), JsonValues.toJava(e.getValue())));
        if (tokenizerConfig != null) {
            tokenizerConfig.fields().forEachRemaining(e ->
                    metadata.put("hf.tokenizer_config." + e.getKey(), JsonValues.toJava(e.getValue())));
        }

        List<SafetensorsFile> files = openWeights(dir);
        try {
            Map<String, WeightTensor> tensors = new LinkedHashMap<>();
            for (SafetensorsFile f : files) {
                f.metadata().forEach((k, v) -> metadata.putIfAbsent("hf.safetensors." + k, v));
                for (Map.Entry<String, WeightTensor> e : f.tensors().entrySet()) {
                    String name = WeightNames.ggufName(e.getKey());
                    if (name == null) continue;
                    WeightTensor t = e.getValue();
                    if (tensors.put(name, new WeightTensor(name, t.type(), t.shape(), t.data())) != null) {
                        throw new ModelFormatException(f.path(), "tensor " + e.getKey() + " appears in more than one file");
                    }
                }
            }
            if (llama.tiedEmbeddings()) tensors.remove("output.weight");
            MappedWeights weights = new MappedWeights(dir, tensors, files);
            WeightValidator.validate(dir, llama, weights);
            PageToucher.touch(dir.getFileName().toString(), tensors.values());
            return new LoadedModel(dir, llama, weights, Collections.unmodifiableMap(metadata), tokenizerJson,
                    chatTemplate(tokenizerConfig));
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    /** model.safetensors, else the shards the index names (checking each tensor is where the index says), else every *.safetensors. */
    private static List<SafetensorsFile> openWeights(Path dir) {
        Path index = dir.resolve("model.safetensors.index.json");
        List<Path> paths;
        Map<String, String> weightMap = Map.of();
        if (Files.isRegularFile(dir.resolve("model.safetensors"))) {
            paths = List.of(dir.resolve("model.safetensors"));
        } else if (Files.isRegularFile(index)) {
            JsonNode map = readJson(index).get("weight_map");
            if (map == null || !map.isObject()) throw new ModelFormatException(index, "no weight_map object");
            Map<String, String> wm = new LinkedHashMap<>();
            Set<String> shards = new LinkedHashSet<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String shard = e.getValue().asText();
                if (shard.contains("/") || shard.contains("\\") || !Files.isRegularFile(dir.resolve(shard))) {
                    throw new ModelFormatException(index, "tensor " + e.getKey() + " is in shard " + shard + ", which is missing");
                }
                wm.put(e.getKey(), shard);
                shards.add(shard);
            }
            weightMap = wm;
            paths = shards.stream().map(dir::resolve).toList();
        } else {
            try (Stream<Path> s = Files.list(dir)) {
                paths = s.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
            } catch (IOException e) {
                throw new ModelFormatException(dir, "cannot list directory: " + e, e);
            }
            if (paths.isEmpty()) throw new ModelFormatException(dir, "no model.safetensors, model.safetensors.index.json or *.safetensors");
        }
        List<SafetensorsFile> files = new ArrayList<>();
        try {
            for (Path p : paths) files.add(SafetensorsFile.open(p));
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                SafetensorsFile shard = files.get(paths.indexOf(dir.resolve(e.getValue())));
                if (!shard.tensors().containsKey(e.getKey())) {
                    throw new ModelFormatException(shard.path(), "missing tensor " + e.getKey()
                            + " (model.safetensors.index.json places it in this shard)");
                }
            }
            return files;
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    /** Added/special token texts → ids from tokenizer_config.json and tokenizer.json. */
    private static Map<String, Integer> addedTokens(JsonNode tokenizerConfig, Path tokenizerJson) {
        Map<String, Integer> ids = new HashMap<>();
        if (tokenizerConfig != null) {
            tokenizerConfig.path("added_tokens_decoder").fields().forEachRemaining(e -> {
                String content = e.getValue().path("content").asText(null);
                try {
                    if (content != null) ids.putIfAbsent(content, Integer.parseInt(e.getKey()));
                } catch (NumberFormatException ignored) {
                    // not an id: not a token entry
                }
            });
        }
        if (tokenizerJson != null) {
            for (JsonNode t : readJson(tokenizerJson).path("added_tokens")) {
                if (t.has("content") && t.path("id").canConvertToInt()) ids.putIfAbsent(t.get("content").asText(), t.get("id").asInt());
            }
        }
        return ids;
    }

    /** {@code chat_template}: a string, or a list of {name, template} where "default" (else the first) wins. */
    private static String chatTemplate(JsonNode tokenizerConfig) {
        if (tokenizerConfig == null) return null;
        JsonNode t = tokenizerConfig.get("chat_template");
        if (t == null || t.isNull()) return null;
        if (t.isTextual()) return t.asText();
        if (t.isArray()) {
            for (JsonNode named : t) {
                if ("default".equals(named.path("name").asText())) return named.path("template").asText(null);
            }
            return t.path(0).path("template").asText(null);
        }
        return null;
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new ModelFormatException(file, "bad JSON: " + e.getMessage(), e);
        }
    }
}
