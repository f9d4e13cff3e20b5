package dev.kvasir.bench.decode;

import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.RandomModelMaker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** What the CPU and GPU decode benchmarks (and the constraint bench) share: random models on disk, greedy picks, bytes read per step. */
public final class DecodeBenchSupport {

    private DecodeBenchSupport() {}

    /** {@code dir/SHAPE-TYPE.gguf}, written with random weights (seed 42) when it is not there yet. */
    public static Path ensureModel(Path dir, String shape, String type, String bench) {
        Path file = dir.resolve(shape + "-" + type + ".gguf");
        if (Files.isRegularFile(file)) return file;
        RandomModelMaker.Shape s = RandomModelMaker.SHAPES.get(shape);
        if (s == null) throw new IllegalArgumentException("unknown shape " + shape + " (one of " + RandomModelMaker.SHAPES.keySet() + ")");
        GgmlType t = GgmlType.valueOf(type.toUpperCase(Locale.ROOT));
        try {
            Files.createDirectories(dir);
            System.err.println(bench + ": writing " + file);
            Path tmp = dir.resolve(file.getFileName() + ".tmp");
            RandomModelMaker.make(s, t, 42, tmp);
            Files.move(tmp, file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
        return file;
    }

    /** Bytes of every matrix a decode step reads: all block matrices and the classifier (the embedding row is noise). */
    static double weightBytesPerStep(LoadedModel m, LlamaConfig c) {
        double bytes = 0;
        for (String name : m.weights().names()) {
            WeightTensor t = m.weights().tensor(name);
            if (name.startsWith("blk.") && t.shape().length == 2) bytes += t.data().byteSize();
        }
        WeightTensor out = m.weights().find("output.weight");
        if (c.tiedEmbeddings() || out == null) out = m.weights().tensor("token_embd.weight");
        return bytes + out.data().byteSize();
    }
}
