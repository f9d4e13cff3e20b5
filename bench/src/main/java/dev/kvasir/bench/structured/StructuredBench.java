package dev.kvasir.bench.structured;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.bench.decode.DecodeBenchSupport;
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
import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;

/**
 * JSON mode's decode speed through the real server against free decoding: {@code scripts/bench
 * structured}. One streaming /v1/completions request at a time on smol135 Q8_0 (random weights),
 * free and {@code response_format: json_object} alternating with the same prompt and seed, so both
 * sides see the same machine load. A random model often closes its JSON object early, so speed is
 * decode tokens (after the first) over the time from the first streamed token to the last, summed
 * across each side's runs; the per-run medians are printed too. The constrained side pays for
 * everything the server adds: the constraint per sequence, the mask prefetch beside the forward
 * pass, masking in the sampler and the accept after it.
 */
public final class StructuredBench {

    private static final ObjectMapper JSON = new ObjectMapper();

    private record Run(int tokens, double decodeSeconds) {
        double rate() {
            return tokens > 1 ? (tokens - 1) / decodeSeconds : Double.NaN;
        }
    }

    private StructuredBench() {}

    public static void main(String[] args) throws Exception {
        int runs = 20, tokens = 64, threads = 2;
        Path modelsDir = Path.of("bench/models");
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--runs" -> { runs = Integer.parseInt(v); i++; }
                case "--tokens" -> { tokens = Integer.parseInt(v); i++; }
                case "--threads" -> { threads = Integer.parseInt(v); i++; }
                case "--models-dir" -> { modelsDir = Path.of(v); i++; }
                default -> {
                    System.err.println("structured bench: unknown argument " + args[i]
                            + "\nusage: scripts/bench structured [--runs 20] [--tokens 64] [--threads 2] [--models-dir DIR]");
                    System.exit(2);
                }
            }
        }
        Path model = DecodeBenchSupport.ensureModel(modelsDir, "smol135", "q8_0", "structured bench");
        ServerConfig config = ServerConfig.builder(model).servedModelName("bench").memoryStore("none").maxModelLen(1024)
                .kvCacheMemoryBytes(256L << 20).maxNumSeqs(4).threads(threads).warmupSteps(0).build();
        String setup = String.format(Locale.ROOT, "structured bench: %s through the server, %d threads, up to %d tokens, %d alternating runs, "
                + "%d cores", model, threads, tokens, runs, Runtime.getRuntime().availableProcessors());
        System.out.println(setup);
        StringBuilder out = new StringBuilder(setup).append('\n');
        try (KvasirServer server = KvasirServer.start(config)) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
            // Warm-up of both paths (JIT, the JSON-object constraint's compile), unmeasured.
            for (int i = 0; i < 3; i++) {
                request(http, server.baseUrl(), tokens, i, false);
                request(http, server.baseUrl(), tokens, i, true);
            }
            double[] free = new double[runs], json = new double[runs];
            long freeTokens = 0, jsonTokens = 0;
            double freeSeconds = 0, jsonSeconds = 0;
            for (int i = 0; i < runs; i++) {
                Run f = request(http, server.baseUrl(), tokens, 1000 + i, false);
                Run j = request(http, server.baseUrl(), tokens, 1000 + i, true);
                free[i] = f.rate();
                json[i] = j.rate();
                if (f.tokens() > 1) {
                    freeTokens += f.tokens() - 1;
                    freeSeconds += f.decodeSeconds();
                }
                if (j.tokens() > 1) {
                    jsonTokens += j.tokens() - 1;
                    jsonSeconds += j.decodeSeconds();
                }
            }
            double freeRate = freeTokens / freeSeconds, jsonRate = jsonTokens / jsonSeconds;
            out.append(String.format(Locale.ROOT, "  free      %5d decode tokens %7.1f tok/s (per-run median %.1f)%n", freeTokens, freeRate,
                    median(free)));
            out.append(String.format(Locale.ROOT, "  json mode %5d decode tokens %7.1f tok/s (per-run median %.1f)%n", jsonTokens, jsonRate,
                    median(json)));
            out.append(String.format(Locale.ROOT, "  json / free = %.3f%n", jsonRate / freeRate));
        }
        System.out.print(out);
        Path file = Path.of("bench", "results", "structured-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".txt");
        Files.createDirectories(file.getParent());
        Files.writeString(file, out.toString());
        System.out.println("written to " + file);
    }

    /** One streamed completion; its completion tokens and the seconds from the first streamed token to the last. */
    private static Run request(HttpClient http, String base, int tokens, int seed, boolean jsonMode) throws IOException, InterruptedException {
        String body = "{\"model\":\"bench\",\"prompt\":\"Reply with a JSON object describing a user:\",\"max_tokens\":" + tokens
                + ",\"temperature\":0.8,\"seed\":" + seed + ",\"stream\":true,\"stream_options\":{\"include_usage\":true}"
                + (jsonMode ? ",\"response_format\":{\"type\":\"json_object\"}" : ",\"ignore_eos\":true") + "}";
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/completions")).header("Content-Type", "application/json")
                .timeout(Duration.ofMinutes(5)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
        HttpResponse<java.util.stream.Stream<String>> response = http.send(request, HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) throw new IllegalStateException("HTTP " + response.statusCode() + " for " + body);
        long first = 0, last = 0;
        int usage = -1;
        for (Iterator<String> it = response.body().iterator(); it.hasNext(); ) {
            String line = it.next();
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
            long now = System.nanoTime();
            JsonNode event = JSON.readTree(line.substring(6));
            if (event.has("error")) throw new IllegalStateException(event.get("error").toString());
            if (event.path("usage").has("completion_tokens")) usage = event.get("usage").get("completion_tokens").asInt();
            if (event.path("choices").isEmpty()) continue;
            if (first == 0) first = now;
            last = now;
        }
        return new Run(usage, (last - first) / 1e9);
    }

    private static double median(double[] v) {
        double[] s = Arrays.stream(v).filter(d -> !Double.isNaN(d)).sorted().toArray();
        if (s.length == 0) return Double.NaN;
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
