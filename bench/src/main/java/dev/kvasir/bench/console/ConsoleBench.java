package dev.kvasir.bench.console;

import dev.kvasir.models.ModelLocator;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
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
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code scripts/bench console [--model FILE] [--rounds 8] [--clients 4] [--tokens 256] [--blocks 4096]}: what
 * watching the KV view costs the engine. The same load (clients × one request of {@code tokens}
 * new tokens each, ignore_eos) runs in alternating rounds without and with one subscriber on
 * {@code GET /v1/kv/stream} (A, B, A, B, ...: the machine's noise hits both alike); reported: the
 * generated tokens per second of each round, their medians and the ratio B / A. Then the engine
 * thread's own cost of one block-map read, timed over 2,000 reads on the engine thread, and what
 * share of the engine's time the feed's four reads a second take. Without a subscriber there is
 * nothing to measure: no timer runs and the engine is never asked (WebConsoleTest proves it).
 */
public final class ConsoleBench {

    public static void main(String[] args) throws Exception {
        Path model = null;
        int rounds = 8;
        int clients = 4;
        int tokens = 256;
        int blocks = 4096;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--model" -> { model = Path.of(v); i++; }
                case "--rounds" -> { rounds = Integer.parseInt(v); i++; }
                case "--clients" -> { clients = Integer.parseInt(v); i++; }
                case "--tokens" -> { tokens = Integer.parseInt(v); i++; }
                case "--blocks" -> { blocks = Integer.parseInt(v); i++; }
                default -> {
                    System.err.println("usage: scripts/bench console [--model FILE] [--rounds 8] [--clients 4] [--tokens 256] [--blocks 4096]");
                    System.exit(2);
                }
            }
        }
        if (model == null) model = ModelLocator.testModel("stories260K.gguf");
        ServerConfig config = ServerConfig.builder(model).servedModelName("bench").memoryStore("none").numKvBlocks(blocks)
                .maxNumSeqs(Math.max(16, clients)).build();
        String setup = "console benchmark: " + model.getFileName() + ", " + clients + " clients x " + tokens + " tokens per round, "
                + rounds + " rounds alternating without (A) and with (B) one /v1/kv/stream subscriber, " + blocks + " KV blocks, "
                + Runtime.getRuntime().availableProcessors() + " cores";
        System.out.println(setup);
        StringBuilder table = new StringBuilder(String.format("%-6s %-10s %12s %8s%n", "round", "watchers", "tok/s", "events"));
        double[] a = new double[(rounds + 1) / 2];
        double[] b = new double[rounds / 2];
        double readMicros;
        try (KvasirServer server = KvasirServer.start(config)) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
            AtomicInteger ids = new AtomicInteger();
            load(http, server.baseUrl(), clients, tokens, ids); // unmeasured: JIT warm-up of the batch shapes
            for (int r = 0; r < rounds; r++) {
                boolean watched = r % 2 == 1;
                AtomicInteger events = new AtomicInteger();
                InputStream feed = watched ? subscribe(http, server.baseUrl(), events) : null;
                double tps = load(http, server.baseUrl(), clients, tokens, ids);
                if (feed != null) feed.close();
                if (watched) b[r / 2] = tps;
                else a[r / 2] = tps;
                table.append(String.format("%-6d %-10s %12.1f %8s%n", r + 1, watched ? "B (1)" : "A (0)", tps, watched ? events.get() : "-"));
            }
            readMicros = blockMapReadMicros(server);
        }
        double medianA = median(a);
        double medianB = median(b);
        table.append(String.format("median A %.1f tok/s, B %.1f tok/s, B / A = %.3f%n", medianA, medianB, medianB / medianA));
        table.append(String.format("one block-map read of %d blocks on the engine thread: %.1f us; at %d reads/s: %.4f%% of the engine's time%n",
                blocks, readMicros, 1000 / dev.kvasir.server.console.KvFeed.PERIOD_MILLIS,
                100 * readMicros * (1000.0 / dev.kvasir.server.console.KvFeed.PERIOD_MILLIS) / 1e6));
        System.out.print(table);
        Path out = Path.of("bench", "results", "console-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".txt");
        Files.createDirectories(out.getParent());
        Files.writeString(out, setup + "\n" + table);
        System.out.println("written to " + out);
    }

    /** Generated tokens per second of one round: every client sends one request at once. */
    private static double load(HttpClient http, String base, int clients, int tokens, AtomicInteger ids) throws Exception {
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            int id = ids.incrementAndGet();
            String body = "{\"model\":\"bench\",\"prompt\":\"Request " + id + ": once upon a time\",\"max_tokens\":" + tokens
                    + ",\"ignore_eos\":true,\"temperature\":0.8,\"seed\":" + id + "}";
            all.add(http.sendAsync(HttpRequest.newBuilder(URI.create(base + "/v1/completions")).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> f : all) {
            HttpResponse<String> r = f.get(10, TimeUnit.MINUTES);
            if (r.statusCode() != 200) throw new IllegalStateException("request failed: HTTP " + r.statusCode() + " " + r.body());
        }
        return (double) clients * tokens / ((System.nanoTime() - t0) / 1e9);
    }

    /** Opens the KV feed and counts its events on a virtual thread until the returned stream is closed. */
    private static InputStream subscribe(HttpClient http, String base, AtomicInteger events) throws Exception {
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/kv/stream")).GET().build(),
                HttpResponse.BodyHandlers.ofInputStream());
        if (r.statusCode() != 200) throw new IllegalStateException("the KV feed answered HTTP " + r.statusCode());
        Thread.ofVirtual().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) if (line.startsWith("data: ")) events.incrementAndGet();
            } catch (java.io.IOException e) {
                // closed at the end of the round
            }
        });
        return r.body();
    }

    /** Microseconds one block-map read takes on the engine thread (the feed's whole cost there), median of 2,000. */
    private static double blockMapReadMicros(KvasirServer server) throws Exception {
        return server.engine().probe(kv -> {
            byte[] states = new byte[kv.numTotalBlocks() + kv.numTotalCpuBlocks()];
            double[] micros = new double[2000];
            for (int i = 0; i < micros.length; i++) {
                long t0 = System.nanoTime();
                kv.blockStates(states);
                micros[i] = (System.nanoTime() - t0) / 1e3;
            }
            return median(micros);
        }).get(1, TimeUnit.MINUTES);
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length == 0 ? Double.NaN : s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
