package dev.kvasir.server.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One request and its response on a connection. Every method may be called from any thread: work
 * is moved onto the channel's event loop, which is the only thread that touches the channel. Logs
 * one line per request when the response ends.
 */
public final class HttpExchange {

    private static final Logger ACCESS = LoggerFactory.getLogger("kvasir.access");
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);

    private final ChannelHandlerContext ctx;
    private final String method;
    private final String path;
    private final boolean keepAlive;
    private final long startNanos = System.nanoTime();
    private final Runnable onEnd;
    /** Runs once when the response ends or the client leaves (the drain counts open requests so). */
    private volatile Runnable whenDone = () -> {};
    private boolean streaming;
    private boolean ended;
    private volatile Runnable onCancel;
    private volatile boolean cancelled;
    private String logDetail = "";
    private int status;
    private volatile ApiKeys.Principal principal;
    private volatile Map<String, String> query = Map.of();
    private volatile RateLimiter.Admission admission = RateLimiter.Admission.UNLIMITED;

    HttpExchange(ChannelHandlerContext ctx, String method, String path, boolean keepAlive, Runnable onEnd) {
        this.ctx = ctx;
        this.method = method;
        this.path = path;
        this.keepAlive = keepAlive;
        this.onEnd = onEnd;
    }

    public String path() { return path; }

    /** The tenant of the request's API key ({@value ApiKeys#DEFAULT_TENANT} on a server without keys); null before authentication. */
    public String tenant() {
        ApiKeys.Principal p = principal;
        return p == null ? null : p.tenant();
    }

    /** Who sent the request; null before authentication (and on {@code /health}). */
    public ApiKeys.Principal principal() { return principal; }

    /** The request's rate-limit account: charge its tokens here. */
    public RateLimiter.Admission admission() { return admission; }

    void authenticated(ApiKeys.Principal principal) {
        this.principal = principal;
    }

    /** The query string's parameters (the first value of each); a repeated name is the client's error. */
    void query(Map<String, List<String>> parameters) {
        Map<String, String> first = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, List<String>> e : parameters.entrySet()) {
            if (e.getValue().size() > 1) throw ApiException.badRequest(e.getKey(), "query parameter '" + Json.abbreviate(e.getKey(), 40) + "' is repeated");
            first.put(e.getKey(), e.getValue().isEmpty() ? "" : e.getValue().getFirst());
        }
        query = Map.copyOf(first);
    }

    /** The query string's parameters by name. */
    public Map<String, String> query() { return query; }

    void admitted(RateLimiter.Admission admission) {
        this.admission = admission;
    }

    /** Runs when the client goes away before the response ended (abort the generation). */
    public void onCancel(Runnable cancel) { this.onCancel = cancel; }

    /** Text appended to this request's log line (token counts, timings). */
    public void logDetail(String detail) { this.logDetail = detail; }

    public void execute(Runnable task) {
        if (ctx.executor().inEventLoop()) task.run();
        else ctx.executor().execute(task);
    }

    public void sendJson(HttpResponseStatus status, Object body) {
        send(status, "application/json", Json.write(body), null);
    }

    public void sendError(ApiException e) {
        ObjectNode error = Json.MAPPER.createObjectNode();
        ObjectNode inner = error.putObject("error");
        inner.put("message", e.getMessage());
        inner.put("type", e.type());
        inner.put("param", e.param());
        inner.put("code", e.code());
        String retryAfter = e.retryAfterSeconds() > 0 ? String.valueOf(e.retryAfterSeconds())
                : e.status() == HttpResponseStatus.SERVICE_UNAVAILABLE ? "1" : null;
        // Not the message: it may quote the client's values, and request text never goes into the log.
        logDetail = e.type() + (e.code() != null ? " " + e.code() : "") + (e.param() != null ? " param=" + e.param() : "");
        send(e.status(), "application/json", Json.write(error), retryAfter);
    }

    public void sendText(HttpResponseStatus status, String contentType, String body) {
        send(status, contentType, body.getBytes(StandardCharsets.UTF_8), null);
    }

    /** A whole response with these headers besides the content type and length (static files: caching, security policy). */
    public void sendBytes(HttpResponseStatus status, String contentType, byte[] body, Map<String, String> headers) {
        send(status, contentType, body, null, headers);
    }

    private void send(HttpResponseStatus status, String contentType, byte[] body, String retryAfter) {
        send(status, contentType, body, retryAfter, Map.of());
    }

    private void send(HttpResponseStatus status, String contentType, byte[] body, String retryAfter, Map<String, String> headers) {
        execute(() -> {
            if (ended) return;
            if (streaming) {
                // The status line is gone; report the error inside the stream and end it (the log keeps the code).
                this.status = status.code();
                event(body);
                endStream();
                return;
            }
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
            // A 304 has no body, and its length would describe the cached one: leave it out.
            if (status != HttpResponseStatus.NOT_MODIFIED) response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
            if (status == HttpResponseStatus.METHOD_NOT_ALLOWED) response.headers().set(HttpHeaderNames.ALLOW, allowed());
            if (retryAfter != null) response.headers().set(HttpHeaderNames.RETRY_AFTER, retryAfter);
            headers.forEach(response.headers()::set);
            finish(response, status, true);
        });
    }

    /** Starts a server-sent event stream (chunked, no content length). */
    public void startStream() {
        execute(() -> {
            if (ended || streaming) return;
            streaming = true;
            HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK);
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8");
            response.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-cache");
            HttpUtil.setTransferEncodingChunked(response, true);
            HttpUtil.setKeepAlive(response, keepAlive);
            status = 200;
            ctx.write(response);
        });
    }

    /** Writes {@code data: JSON} and flushes it; the caller is on the event loop. */
    public void event(byte[] json) {
        if (ended || !streaming) return;
        ByteBuf buf = ctx.alloc().buffer(DATA.length + json.length + 2);
        buf.writeBytes(DATA).writeBytes(json).writeByte('\n').writeByte('\n');
        ctx.writeAndFlush(new DefaultHttpContent(buf)).addListener(ChannelFutureListener.FIRE_EXCEPTION_ON_FAILURE);
    }

    /** Writes {@code data: [DONE]} and the end of the chunked body; the caller is on the event loop. */
    public void endStream() {
        if (ended || !streaming) return;
        ctx.write(new DefaultHttpContent(Unpooled.wrappedBuffer(DONE)));
        finish(LastHttpContent.EMPTY_LAST_CONTENT, HttpResponseStatus.OK, false);
    }

    private void finish(Object last, HttpResponseStatus status, boolean full) {
        ended = true;
        admission.release();
        this.status = full ? status.code() : this.status;
        if (full) HttpUtil.setKeepAlive((HttpResponse) last, keepAlive);
        var future = ctx.writeAndFlush(last);
        if (!keepAlive) future.addListener(ChannelFutureListener.CLOSE);
        log(this.status);
        whenDone.run();
        onEnd.run();
    }

    /** The connection closed first: cancel whatever still runs for this request. */
    void cancel() {
        if (ended) return;
        ended = true;
        cancelled = true;
        admission.release();
        Runnable cancel = onCancel;
        if (cancel != null) cancel.run();
        log(499);
        whenDone.run();
    }

    /** {@code action} runs once, on the event loop, when this request's response ends or its client leaves. */
    void whenDone(Runnable action) {
        this.whenDone = action;
    }

    /** Whether the connection takes more bytes now without queueing them (a slow reader makes it false). */
    public boolean writable() {
        return ctx.channel().isWritable();
    }

    /** The response ended or the client left; on the event loop only. */
    public boolean ended() { return ended; }

    /** The client left before the response ended; safe from any thread. */
    public boolean isCancelled() { return cancelled; }

    private String allowed() {
        return Routes.allowHeader(path);
    }

    /** The request's one access-log line; client-supplied text is cut short and its control characters escaped. */
    private void log(int code) {
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
        String what = code == 499 ? "499 client closed" : String.valueOf(code);
        ApiKeys.Principal who = principal;
        String line = Json.abbreviate(method, 16) + " " + Json.abbreviate(path, 80) + " " + what + " " + ms + "ms"
                + (who != null && who.authenticated() ? " tenant=" + who.tenant() : "");
        ACCESS.info(logDetail.isEmpty() ? line : line + " " + Json.abbreviate(logDetail, 240));
    }
}
