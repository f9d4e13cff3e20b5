package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/** A plain HTTP/1.1 client for the tests that check the wire format itself (status, headers, raw SSE). */
final class Http {

    static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private Http() {}

    static HttpRequest.Builder request(KvasirServer server, String path, String key) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.baseUrl() + path)).timeout(Duration.ofSeconds(60));
        if (key != null) b.header("Authorization", "Bearer " + key);
        return b;
    }

    static HttpRequest postRequest(KvasirServer server, String path, String json, String key) {
        return request(server, path, key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build();
    }

    static HttpResponse<String> post(KvasirServer server, String path, String json) {
        return post(server, path, json, null);
    }

    static HttpResponse<String> post(KvasirServer server, String path, String json, String key) {
        return send(postRequest(server, path, json, key));
    }

    static CompletableFuture<HttpResponse<String>> postAsync(KvasirServer server, String path, String json) {
        return CLIENT.sendAsync(postRequest(server, path, json, null), HttpResponse.BodyHandlers.ofString());
    }

    static HttpResponse<String> get(KvasirServer server, String path, String key) {
        return send(request(server, path, key).GET().build());
    }

    static HttpResponse<String> send(HttpRequest request) {
        try {
            return CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The response's lines as they arrive (server-sent events are read while the server still writes). */
    static HttpResponse<java.util.stream.Stream<String>> stream(KvasirServer server, String path, String json) {
        try {
            return CLIENT.send(postRequest(server, path, json, null), HttpResponse.BodyHandlers.ofLines());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    static JsonNode json(String body) {
        try {
            return JSON.readTree(body);
        } catch (IOException e) {
            throw new UncheckedIOException("not JSON: " + body, e);
        }
    }

    /** The {@code data:} payloads of an SSE body, in order; the raw lines are checked for the framing. */
    static List<String> events(String body) {
        List<String> data = new ArrayList<>();
        String[] blocks = body.split("\n\n", -1);
        for (int i = 0; i < blocks.length - 1; i++) {
            if (!blocks[i].startsWith("data: ") || blocks[i].contains("\n")) {
                throw new AssertionError("not one 'data: ' line per event: " + blocks[i]);
            }
            data.add(blocks[i].substring(6));
        }
        if (!blocks[blocks.length - 1].isEmpty()) throw new AssertionError("stream ends mid-event: " + blocks[blocks.length - 1]);
        return data;
    }

    /** A chat body for the tests: {@code extra} is spliced in as more top-level fields. */
    static String chat(String content, String extra) {
        return "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"user\",\"content\":" + quote(content) + "}]"
                + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    static String quote(String s) {
        try {
            return JSON.writeValueAsString(s);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
