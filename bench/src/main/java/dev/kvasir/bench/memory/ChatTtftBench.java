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
 * set's questions asked as streamed chats three ways, in rotating order: with memory on (the
 * retrieval, the packed block, its prefill), with {@code memory: {enabled: false}}, and with memory
 * off but the block a search renders for the question sent as a system message (the same prefill
 * without the memory layer: the difference to "on" is the layer's own cost). All ask as the same
 * user with {@code write: false}, so the store does not grow during the run. TTFT is the time to
 * the first event that carries content, as a client sees it.
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
            for (int i = 0; i < 20; i++) { // warm the JIT on every path
                String q = questions.get(i % questions.size());
                chat(http, base, q, true, null);
                chat(http, base, q, false, null);
                chat(http, base, q, false, block(http, base, q));
            }
            int n = rounds;
            double[][] ttft = new double[3][n];
            long[] promptTokens = new long[3];
            long injectedTokens = 0;
            for (int i = 0; i < n; i++) {
                String q = questions.get((i * 7 + 3) % questions.size());
                String block = block(http, base, q); // the control's text: what a search would inject (not timed)
                for (int j = 0; j < 3; j++) {
                    int variant = (i + j) % 3; // rotate which goes first
                    Ttft t = chat(http, base, q, variant == 0, variant == 2 ? block : null);
                    ttft[variant][i] = t.millis();
                    promptTokens[variant] += t.promptTokens();
                    if (variant == 0) injectedTokens += t.memoryTokens();
                }
            }
            for (double[] v : ttft) Arrays.sort(v);
            out.println(String.format("%nchat TTFT with memory on and off (stories260K, %d memories for the user, %d questions, the three"
                    + " variants in rotating order; memory on injects %.0f tokens on average):", memories, n, injectedTokens / (double) n));
            String[] names = {"memory on", "memory off", "memory off, the search's block as a system message"};
            for (int v = 0; v < 3; v++) {
                out.println(String.format("  %-52s TTFT p50 %6.2f ms, p99 %6.2f ms (%.0f prompt tokens on average)", names[v],
                        pct(ttft[v], 0.5), pct(ttft[v], 0.99), promptTokens[v] / (double) n));
            }
            out.println(String.format("  memory adds %.2f ms to TTFT p50: %.2f ms of them the memory layer's own (on vs. the same text sent"
                    + " as a system message), the rest the prefill of the injected tokens", pct(ttft[0], 0.5) - pct(ttft[1], 0.5),
                    pct(ttft[0], 0.5) - pct(ttft[2], 0.5)));
        }
    }

    /** The block {@code POST /v1/memories/search} renders for the question with the chat's defaults (k 8, 512 tokens). */
    private static String block(HttpClient http, String base, String question) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode().put("user", USER).put("query", question).put("k", 8).put("max_tokens", 512);
        HttpResponse<String> r = http.send(post(base + "/v1/memories/search", body), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) throw new IllegalStateException("search: HTTP " + r.statusCode() + " " + r.body());
        return JSON.readTree(r.body()).path("block").asText("");
    }

    private record Ttft(double millis, int memoryTokens, int promptTokens) {}

    /** A streamed chat; {@code system}, when not null, is sent as a system message before the question. */
    private static Ttft chat(HttpClient http, String base, String question, boolean memory, String system)
            throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode().put("model", "ttft").put("user", USER).put("max_tokens", 4).put("temperature", 0)
                .put("ignore_eos", true).put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        var messages = body.putArray("messages");
        if (system != null && !system.isEmpty()) messages.addObject().put("role", "system").put("content", system);
        messages.addObject().put("role", "user").put("content", question);
        body.putObject("memory").put("enabled", memory).put("write", false);
        long start = System.nanoTime();
        HttpResponse<java.util.stream.Stream<String>> response = http.send(post(base + "/v1/chat/completions", body),
                HttpResponse.BodyHandlers.ofLines());
        if (response.statusCode() != 200) {
            throw new IllegalStateException("chat: HTTP " + response.statusCode() + " " + String.join("\n", response.body().toList()));
        }
        long first = 0;
        int tokens = 0, prompt = 0;
        for (Iterator<String> it = response.body().iterator(); it.hasNext(); ) {
            String line = it.next();
            if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
            JsonNode event = JSON.readTree(line.substring(6));
            if (event.has("error")) throw new IllegalStateException("chat: " + event.get("error"));
            if (event.has("memory")) tokens = event.get("memory").path("tokens").asInt();
            if (event.path("usage").has("prompt_tokens")) prompt = event.get("usage").get("prompt_tokens").asInt();
            for (JsonNode c : event.path("choices")) {
                if (first == 0 && !c.path("delta").path("content").asText("").isEmpty()) first = System.nanoTime();
            }
        }
        if (first == 0) throw new IllegalStateException("chat: no content in the stream");
        return new Ttft((first - start) / 1e6, tokens, prompt);
    }

    private static HttpRequest post(String url, ObjectNode body) throws IOException {
        return HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json").timeout(Duration.ofMinutes(5))
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build();
    }

    private static double pct(double[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)];
    }
}
