package dev.kvasir.models.loader;

import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.models.LlamaConfig;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Loads a Llama-family model from a GGUF file, a Hugging Face directory (config.json plus single or
 * sharded safetensors) or a safetensors file inside such a directory. Weights are memory-mapped and
 * validated against the config; anything malformed throws {@link ModelFormatException}.
 */
public final class ModelLoader {

    private ModelLoader() {}

    public static LoadedModel load(Path fileOrDir) {
        Path path = fileOrDir.toAbsolutePath().normalize();
        if (Files.isDirectory(path)) return loadDirectory(path);
        if (!Files.isRegularFile(path)) throw new ModelFormatException(path, "no such file or directory");
        // A .gguf name with a bad magic goes to the GGUF reader, which says what is wrong with the header.
        if (startsWithGgufMagic(path) || path.getFileName().toString().endsWith(".gguf")) return loadGguf(path);
        if (path.getFileName().toString().endsWith(".safetensors")) return HfModelLoader.load(path.getParent());
        if (path.getFileName().toString().equals("config.json")) return HfModelLoader.load(path.getParent());
        throw new ModelFormatException(path, "unknown model format: expected a GGUF file (magic \"GGUF\"), "
                + "a .safetensors file or a Hugging Face model directory");
    }

    private static LoadedModel loadDirectory(Path dir) {
        if (Files.isRegularFile(dir.resolve("config.json"))) return HfModelLoader.load(dir);
        List<Path> ggufs;
        try (Stream<Path> files = Files.list(dir)) {
            ggufs = files.filter(f -> f.getFileName().toString().endsWith(".gguf")).sorted().toList();
        } catch (IOException e) {
            throw new ModelFormatException(dir, "cannot list directory: " + e, e);
        }
        if (ggufs.size() == 1) return loadGguf(ggufs.getFirst());
        throw new ModelFormatException(dir, ggufs.isEmpty()
                ? "not a model directory: no config.json and no .gguf file"
                : "holds several .gguf files; name the one to load: " + ggufs);
    }

    private static boolean startsWithGgufMagic(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            byte[] magic = in.readNBytes(4);
            return magic.length == 4 && magic[0] == 'G' && magic[1] == 'G' && magic[2] == 'U' && magic[3] == 'F';
        } catch (IOException e) {
            throw new ModelFormatException(file, "cannot read: " + e, e);
        }
    }

    /** A GGUF file: config from its metadata, weights validated against it. */
    static LoadedModel loadGguf(Path file) {
        GgufFile gguf = GgufFile.open(file);
        try {
            LlamaConfig config = GgufConfig.read(gguf);
            Map<String, WeightTensor> tensors = new java.util.LinkedHashMap<>();
            for (TensorInfo info : gguf.tensors()) tensors.put(info.name(), gguf.tensor(info.name()));
            MappedWeights weights = new MappedWeights(file, tensors, List.of(gguf));
            WeightValidator.validate(file, config, weights);
            PageToucher.touch(file.getFileName().toString(), tensors.values());
            return new LoadedModel(file, config, weights, gguf.metadata(), null, GgufConfig.chatTemplate(gguf.metadata()));
        } catch (RuntimeException e) {
            gguf.close();
            throw e;
        }
    }
}
