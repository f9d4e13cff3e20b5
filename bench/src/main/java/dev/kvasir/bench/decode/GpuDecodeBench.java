package dev.kvasir.bench.decode;

import dev.kvasir.kernels.Backend;
import dev.kvasir.models.Backends;
import dev.kvasir.models.ForwardBatch;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.SequenceChunk;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.Sampler;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Decode speed of one model on the CUDA backend at several batch sizes: {@code batch} sequences
 * are prefilled together, then decode {@code --decode} greedy steps in lock-step, each step one
 * forward of {@code batch} tokens with its logits downloaded and argmaxed on the host, as the
 * engine does. tok/s counts every sequence's tokens; weight GB/s is the weights one step reads
 * over the step time, to hold against the device's copy bandwidth (the kernel harness measures it).
 * Best of {@code --runs} runs after a warm-up. {@code scripts/gpu-check} runs it for tiny1b f16 at
 * batch 1 and 32; every result line starts with {@code decode }.
 * <pre>
 * java ... dev.kvasir.bench.decode.GpuDecodeBench [--shape tiny1b] [--type f16] [--batches 1,32]
 *          [--prompt 128] [--decode 128] [--runs 3] [--models-dir DIR] [--model FILE] [--device cuda]
 * </pre>
 * A missing random model is written into the models directory first (tiny1b f16 is 2.2 GB).
 */
public final class GpuDecodeBench {

    private static final int BLOCK = 16;

    public static void main(String[] args) {
        String shape = "tiny1b", type = "f16", device = "cuda";
        List<Integer> batches = List.of(1, 32);
        int promptLen = 128, decodeLen = 128, runs = 3;
        Path modelsDir = Path.of("bench/models"), model = null;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--shape" -> { shape = v; i++; }
                case "--type" -> { type = v; i++; }
                case "--batches" -> {
                    List<Integer> b = new ArrayList<>();
                    for (String s : v.split(",")) b.add(Integer.parseInt(s.trim()));
                    batches = b;
                    i++;
                }
                case "--prompt" -> { promptLen = Integer.parseInt(v); i++; }
                case "--decode" -> { decodeLen = Integer.parseInt(v); i++; }
                case "--runs" -> { runs = Integer.parseInt(v); i++; }
                case "--models-dir" -> { modelsDir = Path.of(v); i++; }
                case "--model" -> { model = Path.of(v); i++; }
                case "--device" -> { device = v; i++; }
                default -> {
                    System.err.println("gpu decode bench: unknown argument " + args[i] + "\nusage: GpuDecodeBench [--shape tiny1b]"
                            + " [--type f16] [--batches 1,32] [--prompt N] [--decode N] [--runs N] [--models-dir DIR]"
                            + " [--model FILE] [--device cuda|cpu]");
                    System.exit(2);
                }
            }
        }
        if (promptLen < 1 || decodeLen < 1 || runs < 1) throw new IllegalArgumentException("--prompt, --decode and --runs must be positive");
        try {
            Backends.check(device);
        } catch (IllegalStateException e) {
            System.err.println("gpu decode bench: " + e.getMessage());
            System.exit(3);
        }
        Path file = model != null ? model : DecodeBenchSupport.ensureModel(modelsDir, shape, type, "gpu decode bench");
        String name = model != null ? file.getFileName().toString().replaceFirst("\\.gguf$", "") : shape + " " + type;
        try (LoadedModel loaded = ModelLoader.load(file);
             Backend backend = Backends.create(device, 0)) {
            LlamaConfig c = loaded.config();
            if (promptLen + decodeLen > c.contextLength()) {
                throw new IllegalArgumentException("prompt + decode = " + (promptLen + decodeLen) + " exceeds the context length "
                        + c.contextLength());
            }
            double weightBytes = DecodeBenchSupport.weightBytesPerStep(loaded, c);
            System.out.printf(Locale.ROOT, "backend: %s; %s, prompt %d, decode %d tokens per sequence, best of %d runs%n",
                    backend.name(), name, promptLen, decodeLen, runs);
            int perSeq = (promptLen + decodeLen + BLOCK - 1) / BLOCK;
            int maxBatch = batches.stream().mapToInt(Integer::intValue).max().orElse(1);
            // One model for every batch size: the weights go to the device once.
            try (LlamaModel m = LlamaModel.create(c, loaded.weights(), backend, maxBatch * perSeq, BLOCK, 0)) {
                for (int batch : batches) {
                    double[] best = measure(m, batch, promptLen, decodeLen, runs);
                    double stepSeconds = 1 / best[1];
                    System.out.printf(Locale.ROOT, "decode %s batch %d: %.1f tok/s (%.2f ms/step, weights %.0f GB/s); prefill %.0f tok/s%n",
                            name, batch, batch * best[1], stepSeconds * 1e3, weightBytes / stepSeconds / 1e9, best[0]);
                }
            }
        }
    }

    /** Best prefill tok/s and best decode steps/s over the runs, after one warm-up run. */
    private static double[] measure(LlamaModel model, int batch, int promptLen, int decodeLen, int runs) {
        LlamaConfig c = model.config();
        int perSeq = (promptLen + decodeLen + BLOCK - 1) / BLOCK;
        int[][] tables = new int[batch][perSeq];
        for (int s = 0; s < batch; s++) for (int b = 0; b < perSeq; b++) tables[s][b] = s * perSeq + b;
        int[][] prompts = new int[batch][];
        SplittableRandom random = new SplittableRandom(7);
        for (int s = 0; s < batch; s++) {
            prompts[s] = random.ints(promptLen, 3, c.vocabSize()).toArray();
            if (c.bosId() >= 0) prompts[s][0] = c.bosId();
        }
        double bestPrefill = 0, bestDecode = 0;
        for (int run = 0; run <= runs; run++) {
            long t0 = System.nanoTime();
            List<SequenceChunk> chunks = new ArrayList<>(batch);
            for (int s = 0; s < batch; s++) chunks.add(chunk(s, prompts[s], 0, tables[s]));
            float[][] logits = model.forward(new ForwardBatch(chunks));
            long t1 = System.nanoTime();
            int steps = run == 0 ? Math.min(decodeLen, 8) : decodeLen;
            for (int step = 0; step < steps; step++) {
                chunks.clear();
                for (int s = 0; s < batch; s++) chunks.add(chunk(s, new int[] {Sampler.argmax(logits[s])}, promptLen + step, tables[s]));
                logits = model.forward(new ForwardBatch(chunks));
            }
            long t2 = System.nanoTime();
            if (run == 0) continue; // warm-up: JIT, cuBLAS heuristics, scratch growth
            bestPrefill = Math.max(bestPrefill, (double) batch * promptLen * 1e9 / (t1 - t0));
            bestDecode = Math.max(bestDecode, steps * 1e9 / (t2 - t1));
        }
        return new double[] {bestPrefill, bestDecode};
    }

    private static SequenceChunk chunk(int seq, int[] tokens, int start, int[] table) {
        int[] slots = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            int pos = start + i;
            slots[i] = table[pos / BLOCK] * BLOCK + pos % BLOCK;
        }
        return new SequenceChunk(seq, tokens, start, slots, table, true);
    }
}
