package dev.kvasir.bench.decode;

import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.models.ForwardBatch;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.SequenceChunk;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.Sampler;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * {@code scripts/bench decode}: prompt and decode speed of the CPU forward pass on random-weight
 * models shaped like SmolLM2-135M and TinyLlama-1.1B, and decode as a percentage of the memory
 * bandwidth floor (weight bytes read per token over the copy bandwidth measured in the same run,
 * before and after the models; the better of the two). Each figure is the best of {@code --runs}
 * runs after a warm-up run, because the machine is shared. Also the heap bytes the calling thread
 * allocates per decode step (the least over the runs; it includes the bench's own per-step batch
 * objects, a few hundred bytes), a check that the forward pass allocates no per-token arrays.
 * <pre>
 * scripts/bench decode [--shapes smol135,tiny1b] [--types f32,f16,q8_0] [--threads 2]
 *                      [--prompt 128] [--decode 64] [--runs 2] [--models-dir bench/models] [--model FILE]
 *                      [--against LLAMA_BENCH_BINARY [--idle-wait 30]]
 * </pre>
 * With {@code --against}, the same files run alternately with llama.cpp's llama-bench, at least
 * three passes each ({@link LlamaBenchComparison}).
 * Missing model files are generated into the models directory (git-ignored) first.
 */
public final class DecodeBench {

    private record Row(String model, String type, int threads, double promptTps, double decodeTps, double weightBytes,
                       long allocPerStep) {}

    public static void main(String[] args) throws Exception {
        List<String> shapes = List.of("smol135", "tiny1b");
        List<String> types = List.of("f32", "f16", "q8_0");
        List<Path> explicit = new ArrayList<>();
        int threads = 2, promptLen = 128, decodeLen = 64, runs = 3, idleWait = 30;
        Path modelsDir = Path.of("bench/models");
        Path against = null;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--shapes" -> { shapes = List.of(v.split(",")); i++; }
                case "--types" -> { types = List.of(v.split(",")); i++; }
                case "--threads" -> { threads = Integer.parseInt(v); i++; }
                case "--prompt" -> { promptLen = Integer.parseInt(v); i++; }
                case "--decode" -> { decodeLen = Integer.parseInt(v); i++; }
                case "--runs" -> { runs = Integer.parseInt(v); i++; }
                case "--models-dir" -> { modelsDir = Path.of(v); i++; }
                case "--model" -> { explicit.add(Path.of(v)); i++; }
                case "--against" -> { against = Path.of(v); i++; }
                case "--idle-wait" -> { idleWait = Integer.parseInt(v); i++; }
                default -> {
                    System.err.println("decode bench: unknown argument " + args[i]
                            + "\nusage: scripts/bench decode [--shapes a,b] [--types f32,f16,q8_0] [--threads N] "
                            + "[--prompt N] [--decode N] [--runs N] [--models-dir DIR] [--model FILE] [--against LLAMA_BENCH] [--idle-wait S]");
                    System.exit(2);
                }
            }
        }
        List<Path> files = new ArrayList<>(explicit);
        if (explicit.isEmpty()) {
            for (String shape : shapes) {
                for (String type : types) files.add(DecodeBenchSupport.ensureModel(modelsDir, shape, type, "decode bench"));
            }
        }
        if (against != null) {
            LlamaBenchComparison.run(against, files, threads, promptLen, decodeLen, Math.max(3, runs), idleWait);
            return;
        }

        double before = MemoryBandwidth.measure(threads, 1L << 30, 5);
        System.out.printf(Locale.ROOT, "memory bandwidth (copy, %d threads): %.1f GB/s%n", threads, before / 1e9);
        List<Row> rows = new ArrayList<>();
        try (CpuBackend backend = new CpuBackend(threads)) {
            System.out.println("backend: " + backend.name() + ", prompt " + promptLen + " tokens, decode " + decodeLen + " tokens");
            for (Path file : files) {
                Row r = measure(file, backend, threads, promptLen, decodeLen, runs);
                rows.add(r);
                System.out.printf(Locale.ROOT, "%-16s %-5s prompt %7.1f tok/s  decode %6.1f tok/s  (%.0f MB of weights per token,"
                        + " %d bytes allocated per decode step)%n", r.model, r.type, r.promptTps, r.decodeTps, r.weightBytes / 1e6,
                        r.allocPerStep);
            }
        }
        // Bandwidth again at the end: the machine is shared, so the floor uses the better of the two.
        double after = MemoryBandwidth.measure(threads, 1L << 30, 5);
        double bandwidth = Math.max(before, after);
        System.out.printf(Locale.ROOT, "memory bandwidth after: %.1f GB/s; floor uses %.1f GB/s%n", after / 1e9, bandwidth / 1e9);
        System.out.println();
        System.out.printf("%-16s %-5s %12s %12s %12s %10s%n", "model", "type", "prompt tok/s", "decode tok/s", "floor tok/s", "% floor");
        for (Row r : rows) {
            double floor = bandwidth / r.weightBytes;
            System.out.printf(Locale.ROOT, "%-16s %-5s %12.1f %12.1f %12.1f %9.1f%%%n",
                    r.model, r.type, r.promptTps, r.decodeTps, floor, 100 * r.decodeTps / floor);
        }
        writeResults(rows, before, after, threads, promptLen, decodeLen);
    }

    private static Row measure(Path file, CpuBackend backend, int threads, int promptLen, int decodeLen, int runs) {
        try (LoadedModel loaded = ModelLoader.load(file)) {
            LlamaConfig c = loaded.config();
            int blockSize = 16;
            int blocks = (promptLen + decodeLen + blockSize) / blockSize + 1;
            int[] table = new int[blocks];
            for (int i = 0; i < blocks; i++) table[i] = i;
            int[] prompt = new SplittableRandom(7).ints(promptLen, 3, c.vocabSize()).toArray();
            if (c.bosId() >= 0) prompt[0] = c.bosId();
            double bestPrompt = 0, bestDecode = 0;
            long leastAlloc = Long.MAX_VALUE;
            try (LlamaModel model = LlamaModel.create(c, loaded.weights(), backend, blocks, blockSize, 0)) {
                // Warm-up (JIT): the same prefill and a few decode steps.
                generate(model, prompt, 8, table, blockSize, new long[3]);
                for (int run = 0; run < runs; run++) {
                    long[] nanos = new long[3];
                    generate(model, prompt, decodeLen, table, blockSize, nanos);
                    bestPrompt = Math.max(bestPrompt, promptLen * 1e9 / nanos[0]);
                    bestDecode = Math.max(bestDecode, decodeLen * 1e9 / nanos[1]);
                    leastAlloc = Math.min(leastAlloc, nanos[2] / Math.max(1, decodeLen));
                }
            }
            double bytes = DecodeBenchSupport.weightBytesPerStep(loaded, c);
            String name = file.getFileName().toString().replaceFirst("\\.gguf$", "");
            String type = dominantType(loaded);
            return new Row(name, type, threads, bestPrompt, bestDecode, bytes, leastAlloc);
        }
    }

    /**
     * Prefill {@code prompt} in one step, then {@code decode} greedy steps; out[0] prefill nanos,
     * out[1] decode nanos, out[2] bytes the calling thread allocated while decoding.
     */
    static void generate(LlamaModel model, int[] prompt, int decode, int[] table, int blockSize, long[] out) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long t0 = System.nanoTime();
        float[] logits = step(model, prompt, 0, table, blockSize);
        long t1 = System.nanoTime();
        long a1 = mx.getCurrentThreadAllocatedBytes();
        int pos = prompt.length;
        for (int i = 0; i < decode; i++) {
            logits = step(model, new int[] {Sampler.argmax(logits)}, pos++, table, blockSize);
        }
        out[1] = System.nanoTime() - t1;
        out[2] = mx.getCurrentThreadAllocatedBytes() - a1;
        out[0] = t1 - t0;
    }

    private static float[] step(LlamaModel model, int[] tokens, int start, int[] table, int blockSize) {
        int[] slots = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) slots[i] = start + i;
        return model.forward(new ForwardBatch(List.of(new SequenceChunk(0, tokens, start, slots, table, true))))[0];
    }

    private static String dominantType(LoadedModel m) {
        return m.weights().tensor("blk.0.ffn_up.weight").type().toString();
    }

    private static void writeResults(List<Row> rows, double before, double after, int threads, int promptLen, int decodeLen)
            throws IOException {
        Path dir = Path.of("bench/results");
        Files.createDirectories(dir);
        StringBuilder sb = new StringBuilder();
        sb.append("# decode bench ").append(LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME)).append('\n');
        sb.append(String.format(Locale.ROOT, "# threads %d, prompt %d, decode %d, copy bandwidth %.1f / %.1f GB/s (start / end)%n",
                threads, promptLen, decodeLen, before / 1e9, after / 1e9));
        sb.append("model,type,threads,prompt_tok_s,decode_tok_s,weight_mb_per_token,floor_tok_s,decode_pct_of_floor,"
                + "decode_alloc_bytes_per_step\n");
        double bandwidth = Math.max(before, after);
        for (Row r : rows) {
            double floor = bandwidth / r.weightBytes;
            sb.append(String.format(Locale.ROOT, "%s,%s,%d,%.1f,%.2f,%.1f,%.2f,%.1f,%d%n", r.model, r.type, r.threads,
                    r.promptTps, r.decodeTps, r.weightBytes / 1e6, floor, 100 * r.decodeTps / floor, r.allocPerStep));
        }
        Files.writeString(dir.resolve("decode.csv"), sb.toString());
    }
}
