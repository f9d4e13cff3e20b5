package dev.kvasir.bench.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.models.loader.RandomModelMaker;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code scripts/bench serve [--model FILE] [--clients 1,4,8,16] [--tokens 64] [--requests 16] [--warmup 1] [--threads N]
 * [--warmup-steps 0] [--against URL [--against-pid PID]]}:
 * starts the server in process on a random-weight smol135 Q8_0 model (made once under
 * bench/results/) and drives it with concurrent streaming clients, each sending requests one after
 * the other, each with a distinct prompt and exactly {@code tokens} new tokens (ignore_eos).
 * <p>
 * Method: first {@code warmup} unmeasured passes over every level (the Vector API kernels need
 * several hundred steps of every batch shape before C2 has compiled them; a short warm-up measures
 * the interpreter). Then each level runs a bounded count of requests: at least {@code requests},
 * and at least two per client. Reported per level: total generated tokens per second (wall time of
 * the level), time to first token, time per output token (TPOT: the request's time after its
 * first token over the tokens after the first; the per-token latency, because an event can carry
 * several tokens when one holds back part of a character or a possible stop string), the longest
 * gap between two events per request (stalls), and errors. {@code --warmup-steps} is the server's own
 * start-up warm-up ({@code kvasir serve --warmup-steps}; off by default here, so figures compare
 * with earlier runs); {@code --warmup 0 --warmup-steps N} shows what it does for the first requests.
 * <p>
 * {@code --against URL} drives another OpenAI-compatible server (llama-server on the same GGUF file,
 * started by the caller) with the same load, level by level, alternating which server goes first,
 * both warmed up the same way, then prints its table and the ratios (Kvasir / other) of total
 * tokens per second and TTFT p50. Resident memory after the levels: this process (the server and
 * the load generator) and, with {@code --against-pid}, the other server's.
 */
public final class ServeBench {

    private static final ObjectMapper JSON = new ObjectMapper();

    record RequestResult(boolean ok, int tokens, double ttftSeconds, double tpotSeconds, double maxGapSeconds, String error) {}

    record Level(int clients, int requests, long tokens, double seconds, double[] ttft, double[] tpot, double[] maxGap,
                 int errors) {}

    public static void main(String[] args) throws Exception {
        Path model = null;
        int[] levels = {1, 4, 8, 16};
        int tokens = 64;
        int requests = 16;
        int warmup = 1;
        int threads = 0;
        int warmupSteps = 0;
        String against = null;
        long againstPid = -1;
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--model" -> { model = Path.of(v); i++; }
                case "--clients" -> { levels = Arrays.stream(v.split(",")).mapToInt(Integer::parseInt).toArray(); i++; }
                case "--tokens" -> { tokens = Integer.parseInt(v); i++; }
                case "--requests" -> { requests = Integer.parseInt(v); i++; }
                case "--warmup" -> { warmup = Integer.parseInt(v); i++; }
                case "--threads" -> { threads = Integer.parseInt(v); i++; }
                case "--warmup-steps" -> { warmupSteps = Integer.parseInt(v); i++; }
                case "--against" -> { against = v.replaceAll("/+$", ""); i++; }
                case "--against-pid" -> { againstPid = Long.parseLong(v); i++; }
                default -> {
                    System.err.println("usage: scripts/bench serve [--model FILE] [--clients 1,4,8,16] [--tokens 64] [--requests 16]"
                            + " [--warmup 1] [--threads N] [--warmup-steps 0] [--against URL [--against-pid PID]]");
                    System.exit(2);
                }
            }
        }
        if (model == null) model = randomSmol135();
        int maxClients = Arrays.stream(levels).max().orElse(1);
        // Loopback, free port, 1 GiB of KV (max-model-len 2048 keeps the per-sequence minimum small).
        ServerConfig config = ServerConfig.builder(model).servedModelName("bench").memoryStore("none").maxModelLen(2048)
                .kvCacheMemoryBytes(1L << 30).maxNumSeqs(Math.max(16, maxClients)).threads(threads)
                .warmupSteps(warmupSteps).build();
        String setup = "serve benchmark: " + model + ", " + tokens + " new tokens per request, at least " + requests
                + " requests (2 per client) per level after " + warmup + " warm-up pass(es) and " + warmupSteps
                + " server warm-up steps, "
                + Runtime.getRuntime().availableProcessors() + " cores";
        System.out.println(setup);
        List<Level> results = new ArrayList<>();
        List<Level> theirs = new ArrayList<>();
        String ourRss;
        try (KvasirServer server = KvasirServer.start(config)) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .connectTimeout(Duration.ofSeconds(10)).build();
            AtomicInteger promptId = new AtomicInteger();
            List<String> bases = against == null ? List.of(server.baseUrl()) : List.of(server.baseUrl(), against);
            // Warm-up: page-in of the weights and JIT compilation of every batch shape the levels make.
            for (int pass = 0; pass < warmup; pass++) {
                for (String base : bases) {
                    for (int clients : levels) {
                        Level w = run(http, base, clients, 1, tokens, promptId);
                        if (w.errors() > 0) throw new IllegalStateException(w.errors() + " warm-up request(s) to " + base + " failed");
                    }
                }
            }
            for (int l = 0; l < levels.length; l++) {
                int clients = levels[l];
                int rounds = Math.max(2, (requests + clients - 1) / clients);
                // Alternate which server goes first, level by level: neither always meets the machine first.
                boolean theirsFirst = against != null && l % 2 == 1;
                if (theirsFirst) theirs.add(run(http, against, clients, rounds, tokens, promptId));
                results.add(run(http, server.baseUrl(), clients, rounds, tokens, promptId));
                if (against != null && !theirsFirst) theirs.add(run(http, against, clients, rounds, tokens, promptId));
            }
            ourRss = rss("self");
        }
        String table = table(results);
        if (against != null) {
            StringBuilder sb = new StringBuilder(table);
            sb.append("\nagainst ").append(against).append(":\n").append(table(theirs)).append('\n');
            for (int l = 0; l < levels.length; l++) {
                Level a = results.get(l), b = theirs.get(l);
                sb.append(String.format(java.util.Locale.ROOT, "%2d clients: total tok/s %.2fx, TTFT p50 %.2fx (kvasir / other)%n",
                        levels[l], (a.tokens() / a.seconds()) / (b.tokens() / b.seconds()), pct(a.ttft(), 0.5) / pct(b.ttft(), 0.5)));
            }
            sb.append("RSS after the levels: kvasir (server + load generator) ").append(ourRss)
                    .append(", other ").append(againstPid > 0 ? rss(String.valueOf(againstPid)) : "(no --against-pid)").append('\n');
            table = sb.toString();
        }
        System.out.print(table);
        Path out = Path.of("bench", "results", "serve-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".txt");
        Files.createDirectories(out.getParent());
        Files.writeString(out, setup + "\n" + table);
        System.out.println("written to " + out);
    }

    /** VmRSS of /proc/PID (or self), as the kernel prints it. */
    private static String rss(String pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", pid, "status"))) {
                if (line.startsWith("VmRSS:")) return line.substring(6).trim();
            }
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
        return "unknown";
    }

    /** bench/results/smol135-q8_0.gguf, made by the random model maker on first use. */
    private static Path randomSmol135() throws IOException {
        Path file = Path.of("bench", "results", "smol135-q8_0.gguf");
        if (!Files.isRegularFile(file)) {
            Files.createDirectories(file.getParent());
            System.out.println("making a random-weight smol135 Q8_0 model at " + file);
            RandomModelMaker.main(new String[] {"--shape", "smol135", "--type", "q8_0", "--out", file.toString()});
        }
        return file;
    }

    private static Level run(HttpClient http, String base, int clients, int rounds, int tokens, AtomicInteger promptId)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<Future<List<RequestResult>>> futures = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < clients; c++) {
            futures.add(pool.submit(() -> {
                List<RequestResult> mine = new ArrayList<>();
                for (int r = 0; r < rounds; r++) mine.add(request(http, base, tokens, promptId.incrementAndGet()));
                return mine;
            }));
        }
        List<RequestResult> all = new ArrayList<>();
        for (Future<List<RequestResult>> f : futures) all.addAll(f.get(10, TimeUnit.MINUTES));
        double seconds = (System.nanoTime() - start) / 1e9;
        pool.shutdown();
        long generated = 0;
        int errors = 0;
        List<Double> ttft = new ArrayList<>();
        List<Double> tpot = new ArrayList<>();
        List<Double> maxGap = new ArrayList<>();
        for (RequestResult r : all) {
            if (!r.ok()) {
                errors++;
                System.err.println("request failed: " + r.error());
                continue;
            }
            generated += r.tokens();
            ttft.add(r.ttftSeconds());
            tpot.add(r.tpotSeconds());
            maxGap.add(r.maxGapSeconds());
        }
        return new Level(clients, all.size(), generated, seconds, sorted(ttft), sorted(tpot), sorted(maxGap), errors);
    }

    private static RequestResult request(HttpClient http, String base, int tokens, int id) {
        String body = "{\"model\":\"bench\",\"prompt\":\"Request " + id + ": the story of a traveller who walked to the sea\","
                + "\"max_tokens\":" + tokens + ",\"temperature\":0.8,\"seed\":" + id + ",\"ignore_eos\":true,"
                + "\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/completions"))
                .header("Content-Type", "application/json").timeout(Duration.ofMinutes(5))
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
        long start = System.nanoTime();
        try {
            HttpResponse<java.util.stream.Stream<String>> response = http.send(request, HttpResponse.BodyHandlers.ofLines());
            if (response.statusCode() != 200) {
                return new RequestResult(false, 0, 0, 0, 0, "HTTP " + response.statusCode());
            }
            long first = 0, last = 0, maxGap = 0;
            int usageTokens = -1;
            for (Iterator<String> it = response.body().iterator(); it.hasNext(); ) {
                String line = it.next();
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
                long now = System.nanoTime();
                JsonNode event = JSON.readTree(line.substring(6));
                if (event.has("error")) return new RequestResult(false, 0, 0, 0, 0, event.get("error").toString());
                if (event.path("usage").has("completion_tokens")) usageTokens = event.get("usage").get("completion_tokens").asInt();
                if (event.path("choices").isEmpty()) continue;
                if (first == 0) first = now;
                else maxGap = Math.max(maxGap, now - last);
                last = now;
            }
            if (usageTokens != tokens) return new RequestResult(false, 0, 0, 0, 0, "got " + usageTokens + " tokens");
            double tpot = usageTokens > 1 ? (last - first) / 1e9 / (usageTokens - 1) : 0;
            return new RequestResult(true, usageTokens, (first - start) / 1e9, tpot, maxGap / 1e9, null);
        } catch (IOException | InterruptedException e) {
            return new RequestResult(false, 0, 0, 0, 0, e.toString());
        }
    }

    private static double[] sorted(List<Double> values) {
        Collections.sort(values);
        return values.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static double pct(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int rank = (int) Math.ceil(p * sorted.length) - 1; // nearest-rank percentile
        return sorted[Math.clamp(rank, 0, sorted.length - 1)];
    }

    private static String table(List<Level> levels) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%8s %9s %8s %8s %9s %10s %10s %9s %9s %9s %7s%n", "clients", "requests", "tokens", "seconds",
                "tok/s", "TTFT p50", "TTFT p95", "TPOT p50", "TPOT p95", "gap p95", "errors"));
        for (Level l : levels) {
            sb.append(String.format("%8d %9d %8d %8.2f %9.1f %8.0fms %8.0fms %7.1fms %7.1fms %7.0fms %7d%n", l.clients(),
                    l.requests(), l.tokens(), l.seconds(), l.tokens() / l.seconds(), pct(l.ttft(), 0.5) * 1e3,
                    pct(l.ttft(), 0.95) * 1e3, pct(l.tpot(), 0.5) * 1e3, pct(l.tpot(), 0.95) * 1e3,
                    pct(l.maxGap(), 0.95) * 1e3, l.errors()));
        }
        return sb.toString();
    }
}
