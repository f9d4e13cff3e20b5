package dev.kvasir.bench.memory;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * What memory adds to a chat's time to first token: one server (in process, stories260K, an SQLite
 * memory store), one user with every turn of the evaluation set as a memory, and the
 * set's questions asked as streamed chats, each twice in alternating order: with memory on (the
 * retrieval, the packed block, its prefill) and with {@code memory: {enabled: false}}. Both ask as
 * the same user with {@code write: false}, so the store does not grow during the run. TTFT is the
 * time to the first event that carries content, as a client sees it.
 */
final class ChatTtftBench {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String USER = "ttft-user";

    private ChatTtftBench() {}

    static void run(EvalSet set, Path dir, int rounds, PrintStream out) throws Exception {
        Path model = ModelLocator.testModel("stories260K.gguf");
        ServerConfig config = ServerConfig.builder(model).servedModelName("ttft").memoryStore("sqlite:" + dir.resolve("ttft.db"))
                .maxModelLen(2048).ui(false).build();
        try (KvasirServer server = KvasirServer.start(config)) {
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            String base = server.baseUrl();
            int memories = 0;
            for (EvalSet.Turn t : set.conversations().stream().flatMap(x -> x.turns().stream()).toList()) {
                memories++;
                ObjectNode body = JSON.createObjectNode().put("user", USER).put("content", t.content());
                body.putObject("metadata").put("turn_id", t.id());
                HttpResponse<String> r = http.send(post(base + "/v1/memories", body), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 201) throw new IllegalStateException("seeding memories: HTTP " + r.statusCode() + " " + r.body());
            }
            List<String> questions = set.conversations().stream().flatMap(x -> x.questions().stream()).map(EvalSet.Question::text).toList();
            for (int i = 0; i < 20; i++) { // warm the JIT on both paths
                chat(http, base, questions.get(i % questions.size()), true);
                chat(http, base, questions.get(i % questions.size()), false);
            }
            int n = rounds;
            double[] on = new double[n];
            double[] off = new double[n];
            long injectedTokens = 0;
            for (int i = 0; i < n; i++) {
                String q = questions.get((i * 7 + 3) % questions.size());
                if (i % 2 == 0) {
                    Ttft a = chat(http, base, q, true);
                    on[i] = a.millis();
                    injectedTokens += a.memoryTokens();
                    off[i] = chat(http, base, q, false).millis();
                } else {
                    off[i] = chat(http, base, q, false).millis();
                    Ttft a = chat(http, base, q, true);
                    on[i] = a.millis();
                    injectedTokens += a.memoryTokens();
                }
            }
            Arrays.sort(on);
            Arrays.sort(off);
            out.println(String.format("%nchat TTFT with memory on and off (stories260K, %d memories for the user, %d questions each way,"
                    + " alternating; on injects %.0f tokens on average):", memories, n, injectedTokens / (double) n));
            out.println(String.format("  memory off: p50 %.2f ms, p99 %.2f ms; memory on: p50 %.2f ms, p99 %.2f ms; added at p50: %.2f ms",
                    pct(off, 0.5), pct(off, 0.99), pct(on, 0.5), pct(on, 0.99), pct(on, 0.5) - pct(off, 0.5)));
        }
    }

    private record Ttft(double millis, int memoryTokens) {}

    private static Ttft chat(HttpClient http, String base, String question, boolean memory) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode().put("model", "ttft").put("user", USER).put("max_tokens", 4).put("temperature", 0)
                .put("ignore_eos", true).put("stream", true);
        body.putArray("messages").addObject().put("role", "user").put("content", question);
        body.putObject("memory").put("enabled", memory).put("write", false);
        long start = System.nanoTime();
        HttpResponse<java.util.stream.Stream<String>> response = http.send(post(base + "/v1/chat/completions", body),
                HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) {
            throw new IllegalStateException("chat: HTTP " + response.statusCode() + " " + String.join("\n", response.body().toList()));
        }
        long first = 0;
        int tokens = 0;
        for (Iterator<String> it = response.body().iterator(); it.hasNext(); ) {
            String line = it.next();
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
            JsonNode event = JSON.readTree(line.substring(6));
            if (event.has("error")) throw new IllegalStateException("chat: " + event.get("error"));
            if (event.has("memory")) tokens = event.get("memory").path("tokens").asInt();
            for (JsonNode c : event.path("choices")) {
                if (first == 0 && !c.path("delta").path("content").asText("").isEmpty()) first = System.nanoTime();
            }
        }
        if (first == 0) throw new IllegalStateException("chat: no content in the stream");
        return new Ttft((first - start) / 1e6, tokens);
    }

    private static HttpRequest post(String url, ObjectNode body) throws IOException {
        return HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json").timeout(Duration.ofMinutes(5))
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build();
    }

    private static double pct(double[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }
}
