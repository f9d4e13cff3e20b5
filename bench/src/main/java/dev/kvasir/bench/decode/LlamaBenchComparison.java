package dev.kvasir.bench.decode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.LlamaModel;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/**
 * {@code scripts/bench decode --against LLAMA_BENCH}: Kvasir and llama.cpp's {@code llama-bench} on
 * the same GGUF files with the same threads, prompt and decode lengths, in alternating passes (ours
 * first in even passes, theirs first in odd ones), each pass after waiting for the machine to go
 * idle and after measuring the copy bandwidth, so that both engines see the same machine. Reports
 * every pass, then per file the medians and ranges of prompt and decode tokens per second and the
 * ratio of the medians (Kvasir / llama.cpp). Kvasir's model stays loaded and warm across passes;
 * llama-bench loads the file (from the page cache) and runs its own warm-up each pass.
 */
final class LlamaBenchComparison {

    /** One pass: copy bandwidth (bytes/s), 1-minute load average before it, and the four speeds (tokens/s). */
    record Pass(double bandwidth, double load, double ourPrompt, double ourDecode, double theirPrompt, double theirDecode) {}

    private LlamaBenchComparison() {}

    static void run(Path llamaBench, List<Path> files, int threads, int promptLen, int decodeLen, int passes,
                    int idleWaitSeconds) throws Exception {
        if (!Files.isExecutable(llamaBench)) {
            throw new IllegalArgumentException("--against " + llamaBench + " is not an executable llama-bench binary");
        }
        StringBuilder report = new StringBuilder();
        report.append(String.format(Locale.ROOT, "# decode --against %s, %d threads, prompt %d, decode %d, %d passes%n",
                llamaBench, threads, promptLen, decodeLen, passes));
        try (CpuBackend backend = new CpuBackend(threads)) {
            report.append("# kvasir backend: ").append(backend.name()).append('\n');
            System.out.print(report);
            for (Path file : files) {
                List<Pass> list = new ArrayList<>();
                try (LoadedModel loaded = ModelLoader.load(file)) {
                    Warm ours = new Warm(loaded, backend, promptLen, decodeLen);
                    try {
                        for (int p = 0; p < passes; p++) {
                            double load = waitForIdle(threads, idleWaitSeconds);
                            double bandwidth = MemoryBandwidth.measure(threads, 512L << 20, 3);
                            double[] k, l;
                            if (p % 2 == 0) {
                                k = ours.measure();
                                l = llamaBench(llamaBench, file, threads, promptLen, decodeLen);
                            } else {
                                l = llamaBench(llamaBench, file, threads, promptLen, decodeLen);
                                k = ours.measure();
                            }
                            Pass pass = new Pass(bandwidth, load, k[0], k[1], l[0], l[1]);
                            list.add(pass);
                            String line = String.format(Locale.ROOT, "%s pass %d (%s first, load %.1f, copy %.1f GB/s): "
                                            + "prompt %.1f / %.1f tok/s, decode %.2f / %.2f tok/s (kvasir / llama.cpp)%n",
                                    file.getFileName(), p + 1, p % 2 == 0 ? "kvasir" : "llama.cpp", load, bandwidth / 1e9,
                                    pass.ourPrompt, pass.theirPrompt, pass.ourDecode, pass.theirDecode);
                            System.out.print(line);
                            report.append(line);
                        }
                    } finally {
                        ours.close();
                    }
                }
                String summary = summary(file.getFileName().toString(), list);
                System.out.print(summary);
                report.append(summary);
            }
        }
        Path dir = Path.of("bench/results");
        Files.createDirectories(dir);
        Path out = dir.resolve("decode-against-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".txt");
        Files.writeString(out, report.toString());
        System.out.println("written to " + out);
    }

    private static String summary(String name, List<Pass> passes) {
        double[] op = passes.stream().mapToDouble(Pass::ourPrompt).toArray();
        double[] tp = passes.stream().mapToDouble(Pass::theirPrompt).toArray();
        double[] od = passes.stream().mapToDouble(Pass::ourDecode).toArray();
        double[] td = passes.stream().mapToDouble(Pass::theirDecode).toArray();
        double[] bw = passes.stream().mapToDouble(p -> p.bandwidth / 1e9).toArray();
        return String.format(Locale.ROOT, "%s: decode %.2f [%.2f-%.2f] / %.2f [%.2f-%.2f] tok/s = %.2fx; "
                        + "prompt %.1f [%.1f-%.1f] / %.1f [%.1f-%.1f] tok/s = %.2fx; copy bandwidth %.1f-%.1f GB/s%n",
                name, median(od), min(od), max(od), median(td), min(td), max(td), median(od) / median(td),
                median(op), min(op), max(op), median(tp), min(tp), max(tp), median(op) / median(tp), min(bw), max(bw));
    }

    /** A Kvasir model kept loaded and warm: each {@link #measure} is one prefill and one greedy decode. */
    private static final class Warm implements AutoCloseable {
        private final LlamaModel model;
        private final int[] prompt, table;
        private final int decodeLen, blockSize = 16;

        Warm(LoadedModel loaded, CpuBackend backend, int promptLen, int decodeLen) {
            LlamaConfig c = loaded.config();
            this.decodeLen = decodeLen;
            int blocks = (promptLen + decodeLen + blockSize) / blockSize + 1;
            table = new int[blocks];
            for (int i = 0; i < blocks; i++) table[i] = i;
            prompt = new SplittableRandom(7).ints(promptLen, 3, c.vocabSize()).toArray();
            if (c.bosId() >= 0) prompt[0] = c.bosId();
            model = LlamaModel.create(c, loaded.weights(), backend, blocks, blockSize, 0);
            DecodeBench.generate(model, prompt, 8, table, blockSize, new long[3]); // JIT warm-up
        }

        /** {prompt tokens/s, decode tokens/s}. */
        double[] measure() {
            long[] nanos = new long[3];
            DecodeBench.generate(model, prompt, decodeLen, table, blockSize, nanos);
            return new double[] {prompt.length * 1e9 / nanos[0], decodeLen * 1e9 / nanos[1]};
        }

        @Override
        public void close() {
            model.close();
        }
    }

    /** {prompt tokens/s, decode tokens/s} from one llama-bench run (one repetition, JSON output). */
    static double[] llamaBench(Path binary, Path file, int threads, int promptLen, int decodeLen) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(binary.toString(), "-m", file.toString(), "-p", String.valueOf(promptLen),
                "-n", String.valueOf(decodeLen), "-t", String.valueOf(threads), "-r", "1", "-o", "json")
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String json = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IOException(binary + " failed on " + file + " (exit " + (p.isAlive() ? "timeout" : p.exitValue()) + ")");
        }
        return parse(json, file);
    }

    /** llama-bench's JSON array: one object per test, {@code n_prompt}/{@code n_gen} say which, {@code avg_ts} its speed. */
    static double[] parse(String json, Path file) throws IOException {
        double prompt = Double.NaN, decode = Double.NaN;
        for (JsonNode test : new ObjectMapper().readTree(json)) {
            double ts = test.path("avg_ts").asDouble(Double.NaN);
            if (test.path("n_prompt").asInt() > 0 && test.path("n_gen").asInt() == 0) prompt = ts;
            if (test.path("n_gen").asInt() > 0 && test.path("n_prompt").asInt() == 0) decode = ts;
        }
        if (Double.isNaN(prompt) || Double.isNaN(decode)) {
            throw new IOException("llama-bench gave no prompt and decode results for " + file + ": " + json);
        }
        return new double[] {prompt, decode};
    }

    /**
     * Waits up to {@code seconds} for the 1-minute load average to fall below half a core per
     * thread not ours, and returns the load seen last (the machine is shared: it may never be idle).
     */
    private static double waitForIdle(int threads, int seconds) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        double load = load();
        while (load > Math.max(0.5, Runtime.getRuntime().availableProcessors() - threads + 0.5) && System.nanoTime() < deadline) {
            Thread.sleep(2000);
            load = load();
        }
        return load;
    }

    private static double load() throws IOException {
        Path p = Path.of("/proc/loadavg");
        return Files.isReadable(p) ? Double.parseDouble(Files.readString(p).split(" ")[0]) : 0;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double min(double[] v) {
        return Arrays.stream(v).min().orElse(Double.NaN);
    }

    private static double max(double[] v) {
        return Arrays.stream(v).max().orElse(Double.NaN);
    }
}
