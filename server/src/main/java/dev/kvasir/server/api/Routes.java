package dev.kvasir.server.api;

import io.netty.handler.codec.http.HttpMethod;

import java.util.List;
import java.util.regex.Pattern;

/** Every route: its methods, and the ones answered on the event loop (cheap, no I/O). */
final class Routes {

    /** {@code /v1/memories/{id}} and {@code .../history}: ids are opaque, but never contain a slash. */
    static final Pattern MEMORY_ID = Pattern.compile("/v1/memories/([^/]+)");
    static final Pattern MEMORY_HISTORY = Pattern.compile("/v1/memories/([^/]+)/history");

    private Routes() {}

    /** The methods {@code path} answers; empty when there is no such route. */
    static List<HttpMethod> methods(String path) {
        return switch (path) {
            case "/health", "/metrics", "/v1/models", "/v1/kv/stream" -> List.of(HttpMethod.GET);
            case "/v1/chat/completions", "/v1/completions", "/tokenize", "/detokenize", "/v1/embeddings",
                 "/v1/memories/search" -> List.of(HttpMethod.POST);
            case "/v1/memories" -> List.of(HttpMethod.GET, HttpMethod.POST, HttpMethod.DELETE);
            default -> {
                if (isConsoleFile(path)) yield List.of(HttpMethod.GET);
                if (MEMORY_HISTORY.matcher(path).matches()) yield List.of(HttpMethod.GET);
                if (MEMORY_ID.matcher(path).matches()) yield List.of(HttpMethod.GET, HttpMethod.PATCH, HttpMethod.DELETE);
                yield List.of();
            }
        };
    }

    /** The web console's page and its files: public (the data calls they make need the key). */
    static boolean isConsoleFile(String path) {
        return path.equals("/") || path.equals("/ui") || path.startsWith("/ui/");
    }

    /** Routes that need no API key: the health check and the console's static files. */
    static boolean isPublic(String path) {
        return path.equals("/health") || isConsoleFile(path);
    }

    /** Monitoring reads, never counted against a key's rate limits: scrapes and the KV feed. */
    static boolean isMonitoring(String path) {
        return path.equals("/metrics") || path.equals("/v1/kv/stream");
    }

    /** Whether the route is answered on the event loop: it reads only in-memory state. */
    static boolean onEventLoop(String path) {
        return path.equals("/health") || path.equals("/metrics") || path.equals("/v1/models") || path.equals("/v1/kv/stream")
                || isConsoleFile(path);
    }

    /** The {@code Allow} header of a 405. */
    static String allowHeader(String path) {
        return String.join(", ", methods(path).stream().map(HttpMethod::name).toList());
    }
}
