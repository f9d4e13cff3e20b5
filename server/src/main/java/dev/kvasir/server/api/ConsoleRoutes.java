package dev.kvasir.server.api;

import dev.kvasir.server.console.ConsoleFiles;
import dev.kvasir.server.console.KvFeed;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.util.Map;

/** The web console's routes: its static files at {@code /} and {@code /ui/...}, and the KV feed. */
final class ConsoleRoutes {

    /**
     * The page runs its own scripts and styles only, talks to this origin only and cannot be framed:
     * model output it renders can never run as script.
     */
    static final String CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
            + " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    private ConsoleRoutes() {}

    /**
     * A console file, revalidated on every use ({@code no-cache} with a strong ETag: a 304 costs no
     * body, and a new jar's files are seen at once).
     */
    static void file(HttpExchange ex, ConsoleFiles files, HttpHeaders request) {
        if (files == null) {
            throw ApiException.notFound(null, "console_disabled",
                    "The web console is off on this server (started with --no-ui); the API is unchanged");
        }
        ConsoleFiles.StaticFile f = files.find(ex.path());
        if (f == null) throw ApiException.notFound(null, "route_not_found", "No console file at " + Json.abbreviate(ex.path()));
        Map<String, String> headers = Map.of(
                HttpHeaderNames.ETAG.toString(), f.etag(),
                HttpHeaderNames.CACHE_CONTROL.toString(), "no-cache",
                HttpHeaderNames.CONTENT_SECURITY_POLICY.toString(), CONTENT_SECURITY_POLICY,
                "X-Content-Type-Options", "nosniff",
                "Referrer-Policy", "no-referrer");
        if (matches(request.get(HttpHeaderNames.IF_NONE_MATCH), f.etag())) {
            ex.sendBytes(HttpResponseStatus.NOT_MODIFIED, f.contentType(), new byte[0], headers);
        } else {
            ex.sendBytes(HttpResponseStatus.OK, f.contentType(), f.body(), headers);
        }
    }

    /** {@code If-None-Match}: {@code *}, or a list of tags one of which is ours (weak or not). */
    static boolean matches(String ifNoneMatch, String etag) {
        if (ifNoneMatch == null) return false;
        for (String tag : ifNoneMatch.split(",")) {
            String t = tag.trim();
            if (t.startsWith("W/")) t = t.substring(2);
            if (t.equals("*") || t.equals(etag)) return true;
        }
        return false;
    }

    /**
     * {@code GET /v1/kv/stream}: server-sent events, one KV snapshot each, until the client leaves or
     * the server closes. A client that reads too slowly skips snapshots rather than queueing them.
     */
    static void kvStream(HttpExchange ex, KvFeed feed) {
        ex.startStream();
        Runnable unsubscribe = feed.subscribe(json -> ex.execute(() -> {
            if (ex.writable()) ex.event(json);
        }), () -> ex.execute(ex::endStream));
        ex.onCancel(unsubscribe);
        // On the event loop, as the channel's close is: a client gone already was cancelled before the hook was set.
        if (ex.isCancelled()) unsubscribe.run();
    }
}
