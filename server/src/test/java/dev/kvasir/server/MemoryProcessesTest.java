package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kvasir.memory.store.PostgresTestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory across real server processes: a memory the API acknowledged survives {@code kill -9} of
 * the server in the middle of a stream of writes; two servers on one PostgreSQL see each other's
 * writes in their searches within a second.
 */
class MemoryProcessesTest {

    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private static HttpResponse<String> post(ServerProcess s, String path, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + path)).header("Content-Type", "application/json")
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(ServerProcess s, String path) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(s.baseUrl() + path)).timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void everyAcknowledgedMemorySurvivesKill9(@TempDir Path dir) throws Exception {
        String store = "sqlite:" + dir.resolve("memory.db");
        List<String> acknowledged = new ArrayList<>();
        try (ServerProcess server = ServerProcess.start(dir, "--memory-store", store)) {
            // Writers keep going while the server is killed: some writes are cut off, every acknowledged one must stay.
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                for (int i = 0; ; i++) {
                    try {
                        HttpResponse<String> r = post(server, "/v1/memories", "{\"user\":\"uma\",\"content\":\"fact number " + i + "\"}");
                        if (r.statusCode() != 201) throw new AssertionError(r.body());
                        synchronized (acknowledged) {
                            acknowledged.add(Http.json(r.body()).get("id").asText());
                        }
                    } catch (Exception e) {
                        return; // the server is gone
                    }
                }
            });
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (size(acknowledged) < 40 && System.nanoTime() < until) Thread.sleep(10);
            server.kill();
            writer.get(60, TimeUnit.SECONDS);
        }
        assertTrue(size(acknowledged) >= 40, "only " + size(acknowledged) + " writes were acknowledged");
        try (ServerProcess restarted = ServerProcess.start(dir, "--memory-store", store)) {
            for (String id : acknowledged) {
                HttpResponse<String> r = get(restarted, "/v1/memories/" + id + "?user=uma");
                assertEquals(200, r.statusCode(), "acknowledged " + id + " was lost: " + r.body());
            }
        }
    }

    private static int size(List<String> list) {
        synchronized (list) {
            return list.size();
        }
    }

    @Test
    void twoReplicasOnOnePostgresqlSeeEachOthersWrites(@TempDir Path dir) throws Exception {
        String store = PostgresTestServer.shared().newDatabase();
        try (ServerProcess a = ServerProcess.start(dir, "--memory-store", store);
             ServerProcess b = ServerProcess.start(dir, "--memory-store", store)) {
            for (int round = 0; round < 3; round++) {
                ServerProcess writer = round % 2 == 0 ? a : b, reader = round % 2 == 0 ? b : a;
                String fact = "Quinn keeps " + (3 + round) + " bees named after planets, round " + round;
                HttpResponse<String> w = post(writer, "/v1/memories", "{\"user\":\"quinn\",\"content\":" + Http.quote(fact) + "}");
                assertEquals(201, w.statusCode(), w.body());
                String id = Http.json(w.body()).get("id").asText();
                long written = System.nanoTime();
                boolean found = false;
                while (!found && System.nanoTime() - written < TimeUnit.SECONDS.toNanos(1)) {
                    JsonNode hits = Http.json(post(reader, "/v1/memories/search", "{\"user\":\"quinn\",\"query\":\"bees named after planets round "
                            + round + "\",\"k\":10}").body());
                    for (JsonNode h : hits.get("data")) found |= h.get("id").asText().equals(id);
                }
                assertTrue(found, "a write through one replica is found through the other within one second (round " + round + ")");
            }
        }
    }
}
