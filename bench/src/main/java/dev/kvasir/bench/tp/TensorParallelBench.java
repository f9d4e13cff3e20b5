package dev.kvasir.bench.tp;

import dev.kvasir.bench.decode.DecodeBenchSupport;
import dev.kvasir.models.Backends;
import dev.kvasir.models.ForwardBatch;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.Ranks;
import dev.kvasir.models.SequenceChunk;
import dev.kvasir.models.ShardPlan;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.Sampler;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * {@code scripts/bench tp}: CPU decode speed of a model split over tensor-parallel ranks (the
 * {@code --threads} workers shared out among them), against the unsplit model, and with the LM
 * head vocab-parallel against the whole LM head on rank 0. All the variants are loaded together
 * and measured in turns (A, B, C, A, B, C, ...), because the machine is shared and noisy; each
 * figure is the median and the best of {@code --runs} turns after a warm-up turn.
 * <pre>
 * scripts/bench tp [--shapes smol135,tiny1b] [--types q8_0] [--sizes 1,2,3] [--threads 2]
 *                  [--prompt 32] [--decode 32] [--runs 3] [--models-dir bench/models]
 * </pre>
 * Sizes a model cannot be split into (they must divide its heads) are skipped with the reason.
 */
public final class TensorParallelBench {

    private record Variant(String name, ShardPlan plan, Ranks ranks, LlamaModel model, List<Double> decodeTps) {}

    public static void main(String[] args) {
        List<String> shapes = List.of("smol135", "tiny1b"), types = List.of("q8_0");
        int[] sizes = {1, 2, 3};
        int threads = 2, promptLen = 32, decodeLen = 32, runs = 3;
        Path modelsDir = Path.of("bench/models");
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--shapes" -> { shapes = List.of(v.split(",")); i++; }
                case "--types" -> { types = List.of(v.split(",")); i++; }
                case "--sizes" -> { sizes = Arrays.stream(v.split(",")).mapToInt(Integer::parseInt).toArray(); i++; }
                case "--threads" -> { threads = Integer.parseInt(v); i++; }
                case "--prompt" -> { promptLen = Integer.parseInt(v); i++; }
                case "--decode" -> { decodeLen = Integer.parseInt(v); i++; }
                case "--runs" -> { runs = Integer.parseInt(v); i++; }
                case "--models-dir" -> { modelsDir = Path.of(v); i++; }
                default -> {
                    System.err.println("tp bench: unknown argument " + args[i] + "\nusage: scripts/bench tp [--shapes a,b]"
                            + " [--types q8_0] [--sizes 1,2,3] [--threads N] [--prompt N] [--decode N] [--runs N] [--models-dir DIR]");
                    System.exit(2);
                }
            }
        }
        System.out.printf(Locale.ROOT, "tp bench: %d threads in all, prompt %d, decode %d tokens, %d runs in turns%n",
                threads, promptLen, decodeLen, runs);
        for (String shape : shapes) {
            for (String type : types) {
                measure(DecodeBenchSupport.ensureModel(modelsDir, shape, type, "tp bench"), sizes, threads, promptLen, decodeLen, runs);
            }
        }
    }

    private static void measure(Path file, int[] sizes, int threads, int promptLen, int decodeLen, int runs) {
        try (LoadedModel loaded = ModelLoader.load(file)) {
            LlamaConfig c = loaded.config();
            int blocks = (promptLen + decodeLen + 16) / 16 + 1;
            int[] table = new int[blocks];
            for (int i = 0; i < blocks; i++) table[i] = i;
            int[] prompt = new SplittableRandom(7).ints(promptLen, 3, c.vocabSize()).toArray();
            List<Variant> variants = new ArrayList<>();
            try {
                for (int n : sizes) {
                    for (ShardPlan.LmHead head : n == 1 ? List.of(ShardPlan.LmHead.VOCAB_PARALLEL) : List.of(ShardPlan.LmHead.values())) {
                        ShardPlan plan;
                        try {
                            plan = ShardPlan.of(c, n, head).requireSplittable(loaded.weights());
                        } catch (IllegalArgumentException e) {
                            if (head == ShardPlan.LmHead.VOCAB_PARALLEL) System.out.println(file.getFileName() + ": skipped: " + e.getMessage());
                            continue;
                        }
                        Ranks ranks = Backends.create("cpu", threads, n);
                        String name = n == 1 ? "TP 1" : "TP " + n + (head == ShardPlan.LmHead.VOCAB_PARALLEL ? ", LM head vocab-parallel"
                                : ", LM head on rank 0");
                        variants.add(new Variant(name, plan, ranks, LlamaModel.create(c, loaded.weights(), ranks, plan, blocks, 16, 0),
                                new ArrayList<>()));
                    }
                }
                for (Variant v : variants) generate(v.model(), prompt, 4, table); // warm-up turn
                for (int run = 0; run < runs; run++) {
                    for (Variant v : variants) v.decodeTps().add(decodeLen * 1e9 / generate(v.model(), prompt, decodeLen, table));
                }
                double base = median(variants.getFirst().decodeTps());
                System.out.printf(Locale.ROOT, "%n%s (%d heads, %d KV heads, vocab %d x dim %d)%n", file.getFileName(),
                        c.numHeads(), c.numKvHeads(), c.vocabSize(), c.dim());
                System.out.printf("%-40s %14s %12s %10s%n", "variant", "median tok/s", "best tok/s", "vs TP 1");
                for (Variant v : variants) {
                    double m = median(v.decodeTps());
                    System.out.printf(Locale.ROOT, "%-40s %14.2f %12.2f %9.2fx%n", v.name(), m,
                            v.decodeTps().stream().mapToDouble(Double::doubleValue).max().orElse(0), m / base);
                }
            } finally {
                for (Variant v : variants) {
                    v.model().close();
                    v.ranks().close();
                }
            }
        }
    }

    /** Prefill, then {@code decode} greedy steps; the decode nanoseconds. */
    private static long generate(LlamaModel model, int[] prompt, int decode, int[] table) {
        float[] logits = step(model, prompt, 0, table);
        long t0 = System.nanoTime();
        int pos = prompt.length;
        for (int i = 0; i < decode; i++) logits = step(model, new int[] {Sampler.argmax(logits)}, pos++, table);
        return System.nanoTime() - t0;
    }

    private static float[] step(LlamaModel model, int[] tokens, int start, int[] table) {
        int[] slots = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) slots[i] = start + i;
        return model.forward(new ForwardBatch(List.of(new SequenceChunk(0, tokens, start, slots, table, true))))[0];
    }

    private static double median(List<Double> values) {
        double[] v = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
