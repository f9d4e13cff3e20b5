package dev.kvasir.bench.soak;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.engine.EngineStats;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code scripts/bench soak [--minutes 30] [--clients 8] [--model FILE] [--interval-seconds 60]}: an
 * endurance run. The server (in process, stories260K by default, a small KV pool so preemption
 * happens) is kept saturated by clients that mix streamed and whole chat and text completions
 * (n = 1 or 2, random lengths), streams cancelled part-way, oversized bodies that must be refused,
 * and clients that throw their connections away and start again. Every interval it prints the KV
 * blocks in use, the heap after a full GC, live threads, open file descriptors, request counts and
 * the latency of the ordinary requests. At the end the load stops and the run fails (exit 1) when
 * blocks are still held, or when the heap, threads or descriptors of the last interval grew past
 * the first's (a leak), or when a request that should have succeeded failed.
 */
public final class SoakBench {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** One interval's counters, reset when the row is printed. */
    private static final class Counters {
        final AtomicLong ok = new AtomicLong();
        final AtomicLong cancelled = new AtomicLong();
        final AtomicLong refused = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final ConcurrentLinkedQueue<Double> latency = new ConcurrentLinkedQueue<>();
    }

    record Row(int minute, int blocksUsed, int running, int waiting, long heapMiB, int threads, long fds, long ok,
               long cancelled, long refused, long failed, double p50, double p99) {}

    public static void main(String[] args) throws Exception {
        double minutes = 30;
        int clients = 8;
        int intervalSeconds = 60;
        Path model = ModelLocator.testModel("stories260K.gguf");
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--minutes" -> { minutes = Double.parseDouble(v); i++; }
                case "--clients" -> { clients = Integer.parseInt(v); i++; }
                case "--interval-seconds" -> { intervalSeconds = Integer.parseInt(v); i++; }
                case "--model" -> { model = Path.of(v); i++; }
                default -> {
                    System.err.println("usage: scripts/bench soak [--minutes 30] [--clients 8] [--interval-seconds 60] [--model FILE]");
                    System.exit(2);
                }
            }
        }
        // A pool of 64 blocks (1,024 tokens) for 8 sequences of up to 512: preemption under load is normal.
        ServerConfig config = ServerConfig.builder(model).servedModelName("soak").memoryStore("none").maxModelLen(512).numKvBlocks(64)
                .maxNumSeqs(8).build();
        String setup = String.format("soak: %s, %d clients, %.1f minutes, rows every %d s, %d cores", model, clients, minutes,
                intervalSeconds, Runtime.getRuntime().availableProcessors());
        System.out.println(setup);
        List<Row> rows = new ArrayList<>();
        boolean leaked;
        try (KvasirServer server = KvasirServer.start(config)) {
            Counters counters = new Counters();
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            for (int c = 0; c < clients; c++) {
                long seed = c;
                pool.execute(() -> client(server.baseUrl(), seed, stop, counters));
            }
            long end = System.nanoTime() + (long) (minutes * 60e9);
            int minute = 0;
            System.out.println(header());
            while (System.nanoTime() < end) {
                Thread.sleep(Math.min(intervalSeconds * 1000L, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
                Row row = sample(++minute, server, counters);
                rows.add(row);
                System.out.println(format(row));
            }
            stop.set(true);
            pool.shutdown();
            pool.awaitTermination(2, TimeUnit.MINUTES);
            leaked = awaitIdle(server) != 0;
        }
        String verdict = verdict(rows, leaked);
        System.out.println(verdict);
        Path out = Path.of("bench", "results", "soak-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".txt");
        Files.createDirectories(out.getParent());
        StringBuilder text = new StringBuilder(setup).append('\n').append(header()).append('\n');
        for (Row r : rows) text.append(format(r)).append('\n');
        Files.writeString(out, text.append(verdict).append('\n'));
        System.out.println("written to " + out);
        if (verdict.startsWith("soak: FAIL")) System.exit(1);
    }

    /** One client: requests one after another until told to stop, with a fresh HTTP client now and then. */
    private static void client(String base, long seed, AtomicBoolean stop, Counters counters) {
        SplittableRandom random = new SplittableRandom(seed);
        HttpClient http = newClient();
        while (!stop.get()) {
            int kind = random.nextInt(100);
            try {
                if (kind < 5) {
                    http.close(); // a client restart: its connections go away with it
                    http = newClient();
                } else if (kind < 15) {
                    oversized(http, base, random, counters);
                } else if (kind < 30) {
                    cancelled(http, base, random, counters);
                } else {
                    ordinary(http, base, random, kind < 65, counters);
                }
            } catch (IOException | RuntimeException e) {
                counters.failed.incrementAndGet();
                System.err.println("soak: request failed: " + e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        http.close();
    }

    private static HttpClient newClient() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    }

    private static String body(SplittableRandom random, boolean chat, boolean stream) {
        int maxTokens = 4 + random.nextInt(60);
        int n = random.nextInt(5) == 0 ? 2 : 1;
        String prompt = "Tell me about day " + random.nextInt(1_000_000) + " of the little dog";
        String common = "\"max_tokens\":" + maxTokens + ",\"n\":" + n + ",\"temperature\":0.8,\"stream\":" + stream;
        return chat ? "{\"messages\":[{\"role\":\"user\",\"content\":\"" + prompt + "\"}]," + common + "}"
                : "{\"prompt\":\"" + prompt + "\"," + common + "}";
    }

    private static HttpRequest post(String base, boolean chat, String body) {
        return HttpRequest.newBuilder(URI.create(base + (chat ? "/v1/chat/completions" : "/v1/completions")))
                .header("Content-Type", "application/json").timeout(Duration.ofMinutes(2))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    /** A request that must succeed, streamed or not; its latency counts. */
    private static void ordinary(HttpClient http, String base, SplittableRandom random, boolean stream, Counters counters)
            throws IOException, InterruptedException {
        boolean chat = random.nextBoolean();
        long start = System.nanoTime();
        HttpResponse<String> r = http.send(post(base, chat, body(random, chat, stream)), HttpResponse.BodyHandlers.ofString());
        double seconds = (System.nanoTime() - start) / 1e9;
        boolean ok = r.statusCode() == 200 && (stream ? r.body().endsWith("data: [DONE]\n\n") : hasUsage(r.body()));
        if (ok) {
            counters.ok.incrementAndGet();
            counters.latency.add(seconds);
        } else {
            counters.failed.incrementAndGet();
            System.err.println("soak: HTTP " + r.statusCode() + ": " + r.body().substring(0, Math.min(300, r.body().length())));
        }
    }

    private static boolean hasUsage(String body) throws IOException {
        JsonNode node = JSON.readTree(body);
        return node.path("usage").has("completion_tokens");
    }

    /** A stream the client abandons after a few events (the server must abort it and free its blocks). */
    private static void cancelled(HttpClient http, String base, SplittableRandom random, Counters counters)
            throws IOException, InterruptedException {
        boolean chat = random.nextBoolean();
        HttpResponse<InputStream> r = http.send(post(base, chat, body(random, chat, true)), HttpResponse.BodyHandlers.ofInputStream());
        try (InputStream in = r.body()) {
            int keep = random.nextInt(400);
            for (int i = 0; i < keep && in.read() >= 0; i++) {
                // read a few bytes of the stream, then hang up
            }
        }
        counters.cancelled.incrementAndGet();
    }

    /** A body far past the context (2-6 MB of text) that must be refused, never served. */
    private static void oversized(HttpClient http, String base, SplittableRandom random, Counters counters)
            throws IOException, InterruptedException {
        String text = "word ".repeat((2 + random.nextInt(5)) * 200_000);
        String body = "{\"prompt\":\"" + text + "\",\"max_tokens\":4}";
        HttpResponse<String> r = http.send(post(base, false, body), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        // 4xx: refused as too long; 503: the large-body lane was full (FairAdmissionTest's other refusal).
        if (r.statusCode() >= 400 && r.statusCode() < 500 || r.statusCode() == 503) counters.refused.incrementAndGet();
        else {
            counters.failed.incrementAndGet();
            System.err.println("soak: an oversized body got HTTP " + r.statusCode());
        }
    }

    private static Row sample(int minute, KvasirServer server, Counters counters) {
        EngineStats s = server.engine().stats();
        System.gc();
        long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() >> 20;
        int threads = ManagementFactory.getThreadMXBean().getThreadCount();
        long fds = openFileDescriptors();
        List<Double> lat = new ArrayList<>();
        Double d;
        while ((d = counters.latency.poll()) != null) lat.add(d);
        lat.sort(null);
        Row row = new Row(minute, s.kvBlocksUsed(), s.running(), s.waiting(), heap, threads, fds,
                counters.ok.getAndSet(0), counters.cancelled.getAndSet(0), counters.refused.getAndSet(0),
                counters.failed.getAndSet(0), percentile(lat, 0.5), percentile(lat, 0.99));
        return row;
    }

    private static long openFileDescriptors() {
        try (var list = Files.list(Path.of("/proc/self/fd"))) {
            return list.count();
        } catch (IOException e) {
            return -1;
        }
    }

    private static double percentile(List<Double> sorted, double p) {
        if (sorted.isEmpty()) return Double.NaN;
        return sorted.get(Math.clamp((int) Math.ceil(p * sorted.size()) - 1, 0, sorted.size() - 1));
    }

    /** Blocks still in use once nothing runs (waits up to a minute for aborts to land). */
    private static int awaitIdle(KvasirServer server) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
        int used;
        do {
            used = server.engine().probe(kv -> {
                kv.checkInvariants();
                return kv.numUsedBlocks();
            }).get(30, TimeUnit.SECONDS);
            if (used == 0 && server.engine().stats().running() == 0) return 0;
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        return used;
    }

    private static String header() {
        return String.format("%6s %7s %7s %7s %8s %7s %5s %7s %9s %7s %6s %8s %8s", "minute", "blocks", "running",
                "waiting", "heap MiB", "threads", "fds", "ok", "cancelled", "refused", "failed", "p50 ms", "p99 ms");
    }

    private static String format(Row r) {
        return String.format("%6d %7d %7d %7d %8d %7d %5d %7d %9d %7d %6d %8.0f %8.0f", r.minute(), r.blocksUsed(),
                r.running(), r.waiting(), r.heapMiB(), r.threads(), r.fds(), r.ok(), r.cancelled(), r.refused(), r.failed(),
                r.p50() * 1e3, r.p99() * 1e3);
    }

    /**
     * FAIL when blocks leak, a request that should have succeeded failed, or the heap after GC,
     * threads or descriptors grew: the smallest of the last third of the rows against the smallest
     * of the first third after the first row (warm-up), since the live heap at any one sample
     * includes whatever multi-megabyte bodies were in flight, and a leak raises the floor.
     */
    static String verdict(List<Row> rows, boolean blocksLeaked) {
        List<String> problems = new ArrayList<>();
        if (blocksLeaked) problems.add("KV blocks still held after the load stopped");
        long failed = rows.stream().mapToLong(Row::failed).sum();
        if (failed > 0) problems.add(failed + " requests failed");
        if (rows.size() >= 4) {
            int window = Math.max(1, (rows.size() - 1) / 3);
            List<Row> early = rows.subList(1, 1 + window), late = rows.subList(rows.size() - window, rows.size());
            long heap0 = early.stream().mapToLong(Row::heapMiB).min().orElseThrow();
            long heap1 = late.stream().mapToLong(Row::heapMiB).min().orElseThrow();
            int threads0 = early.stream().mapToInt(Row::threads).min().orElseThrow();
            int threads1 = late.stream().mapToInt(Row::threads).min().orElseThrow();
            long fds0 = early.stream().mapToLong(Row::fds).min().orElseThrow();
            long fds1 = late.stream().mapToLong(Row::fds).min().orElseThrow();
            if (heap1 > heap0 * 3 / 2 + 32) problems.add("heap after GC grew " + heap0 + " -> " + heap1 + " MiB");
            if (threads1 > threads0 + 8) problems.add("threads grew " + threads0 + " -> " + threads1);
            if (fds1 > fds0 + 16) problems.add("file descriptors grew " + fds0 + " -> " + fds1);
        }
        long ok = rows.stream().mapToLong(Row::ok).sum();
        return problems.isEmpty() ? "soak: PASS (" + ok + " requests served, no growth)" : "soak: FAIL: " + String.join("; ", problems);
    }
}
