package dev.kvasir.models.loader;

import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.models.ModelWeights;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Tensors by GGUF name, all slices of memory-mapped files; closing unmaps the files. */
final class MappedWeights implements ModelWeights {

    private final Path source;
    private final Map<String, WeightTensor> tensors;
    private final List<? extends AutoCloseable> mappings;

    MappedWeights(Path source, Map<String, WeightTensor> tensors, List<? extends AutoCloseable> mappings) {
        this.source = source;
        this.tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        this.mappings = List.copyOf(mappings);
    }

    @Override
    public WeightTensor tensor(String name) {
        WeightTensor t = tensors.get(name);
        if (t == null) throw new ModelFormatException(source, "missing tensor " + name);
        return t;
    }

    @Override
    public WeightTensor find(String name) {
        return tensors.get(name);
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public void close() {
        for (AutoCloseable m : mappings) {
            try {
                m.close();
            } catch (Exception e) {
                throw new IllegalStateException("closing the mappings of " + source + ": " + e.getMessage(), e);
            }
        }
    }
}
