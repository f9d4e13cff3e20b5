package dev.kvasir.models.loader;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.models.LlamaConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A model as the capacity planner needs it, without its weights: the config and the storage type
 * of every weight tensor, by GGUF name. Read from a GGUF header (tensor data is neither mapped nor
 * read) or from a Hugging Face {@code config.json}, whose {@code torch_dtype} types every matrix.
 *
 * @param name  what the model was called on the command line (file name or config name)
 * @param types storage type by GGUF tensor name
 */
public record ModelShape(String name, LlamaConfig config, Map<String, GgmlType> types) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public ModelShape {
        types = Map.copyOf(types);
    }

    /** Names of the configs shipped with Kvasir ({@code llama-3-8b}, {@code llama-3-70b}). */
    public static final List<String> NAMES = List.of("llama-3-8b", "llama-3-70b");

    /**
     * A model file, a {@code config.json}, a Hugging Face directory, or the name of a shipped config.
     *
     * @throws ModelFormatException for a file that is not a model, or a name that is neither a file nor shipped
     */
    public static ModelShape resolve(String fileOrName) {
        Path path = Path.of(fileOrName);
        if (Files.exists(path)) return read(path);
        String name = fileOrName.toLowerCase(Locale.ROOT);
        if (NAMES.contains(name)) {
            try (InputStream in = ModelShape.class.getResourceAsStream("/dev/kvasir/models/configs/" + name + ".json")) {
                return fromConfigJson(name, Path.of(name + ".json"), in);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        throw new ModelFormatException(path, "no such file, and not a known model name (" + String.join(", ", NAMES) + ")");
    }

    /** A GGUF file or a {@code config.json} (or the Hugging Face directory holding one). */
    public static ModelShape read(Path fileOrDir) {
        Path path = fileOrDir.toAbsolutePath().normalize();
        if (Files.isDirectory(path)) path = path.resolve("config.json");
        if (!Files.isRegularFile(path)) throw new ModelFormatException(path, "no such file");
        if (path.getFileName().toString().endsWith(".json")) {
            try (InputStream in = Files.newInputStream(path)) {
                return fromConfigJson(path.getFileName().toString(), path, in);
            } catch (IOException e) {
                throw new ModelFormatException(path, "cannot read: " + e, e);
            }
        }
        try (GgufFile gguf = GgufFile.open(path)) {
            Map<String, GgmlType> types = new LinkedHashMap<>();
            for (TensorInfo t : gguf.tensors()) types.put(t.name(), t.type());
            return new ModelShape(path.getFileName().toString(), GgufConfig.read(gguf), types);
        }
    }

    /**
     * A Hugging Face {@code config.json} read from {@code in}; every matrix has the type its
     * {@code torch_dtype} names (bfloat16, float16 or float32; bfloat16 when absent).
     *
     * @param file named in error messages
     */
    public static ModelShape fromConfigJson(String name, Path file, InputStream in) {
        JsonNode cfg;
        try {
            cfg = JSON.readTree(in);
        } catch (IOException e) {
            throw new ModelFormatException(file, "bad JSON: " + e.getMessage(), e);
        }
        LlamaConfig config = HfConfig.read(file, cfg, Map.of());
        String dtype = cfg.path("torch_dtype").asText("bfloat16");
        GgmlType type = switch (dtype) {
            case "bfloat16" -> GgmlType.BF16;
            case "float16" -> GgmlType.F16;
            case "float32" -> GgmlType.F32;
            default -> throw new ModelFormatException(file, "torch_dtype \"" + dtype + "\" is not one of bfloat16, float16, float32");
        };
        return new ModelShape(name, config, matrixTypes(config, type));
    }

    /** The same model with every matrix stored as {@code type} (norms keep theirs): what quantising it would give. */
    public ModelShape withMatrixType(GgmlType type) {
        Map<String, GgmlType> t = new LinkedHashMap<>(types);
        t.putAll(matrixTypes(config, type));
        return new ModelShape(name, config, t);
    }

    /** The type named on a command line: f32, f16, bf16, q8_0 (also int8), q4_0. */
    public static GgmlType parseType(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "float32" -> GgmlType.F32;
            case "f16", "float16" -> GgmlType.F16;
            case "bf16", "bfloat16" -> GgmlType.BF16;
            case "q8_0", "int8" -> GgmlType.Q8_0;
            case "q4_0", "int4" -> GgmlType.Q4_0;
            default -> throw new IllegalArgumentException("--weight-type must be f32, f16, bf16, q8_0 (int8) or q4_0, got '" + name + "'");
        };
    }

    /** The type of tensor {@code name}, or null when the model has none by that name. */
    public GgmlType type(String name) {
        return types.get(name);
    }

    private static Map<String, GgmlType> matrixTypes(LlamaConfig c, GgmlType type) {
        Map<String, GgmlType> t = new LinkedHashMap<>();
        t.put("token_embd.weight", type);
        if (!c.tiedEmbeddings()) t.put("output.weight", type);
        t.put("output_norm.weight", GgmlType.F32);
        for (int l = 0; l < c.numLayers(); l++) {
            String b = "blk." + l + ".";
            for (String m : new String[] {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
                t.put(b + m + ".weight", type);
            }
            t.put(b + "attn_norm.weight", GgmlType.F32);
            t.put(b + "ffn_norm.weight", GgmlType.F32);
        }
        return t;
    }
}
