package dev.kvasir.server.api;

import dev.kvasir.server.console.WebConsole;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.util.ArrayDeque;

/**
 * Routes requests of one connection. One request is served at a time; requests pipelined behind it
 * wait (a few at most). Reading stays on during a generation so a disconnect is seen at once and
 * cancels it.
 */
final class ApiHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

    private static final Logger LOG = LoggerFactory.getLogger(ApiHandler.class);
    private static final int MAX_PIPELINED = 8;

    private final ApiService service;
    private final ApiKeys keys;
    private final RateLimiter limiter;
    private final WebConsole console;
    private final ArrayDeque<FullHttpRequest> pipelined = new ArrayDeque<>();
    private HttpExchange current;

    ApiHandler(ApiService service, ApiKeys keys, RateLimiter limiter, WebConsole console) {
        this.service = service;
        this.keys = keys;
        this.limiter = limiter;
        this.console = console;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (current != null) {
            if (pipelined.size() >= MAX_PIPELINED) {
                ctx.close();
                return;
            }
            pipelined.add(request.retain());
            return;
        }
        serve(ctx, request);
    }

    private void serve(ChannelHandlerContext ctx, FullHttpRequest request) {
        String path = pathOf(request.uri());
        boolean malformed = request.decoderResult().isFailure();
        HttpExchange exchange = new HttpExchange(ctx, request.method().name(), path,
                !malformed && HttpUtil.isKeepAlive(request), () -> next(ctx));
        current = exchange;
        if (malformed) {
            exchange.sendError(ApiException.badRequest(null, "Malformed HTTP request: " + request.decoderResult().cause().getMessage()));
            return;
        }
        try {
            exchange.query(new QueryStringDecoder(request.uri()).parameters());
            HttpMethod method = request.method();
            java.util.List<HttpMethod> allowed = Routes.methods(path);
            if (allowed.isEmpty()) throw ApiException.notFound(null, "route_not_found", "No route for " + method + " " + path);
            if (!allowed.contains(method)) throw ApiException.methodNotAllowed(method.name(), path);
            if (!Routes.isPublic(path)) {
                ApiKeys.Principal who = keys.authenticate(request.headers().get(HttpHeaderNames.AUTHORIZATION));
                exchange.authenticated(who);
                // Scrapes and the KV feed are not the key's traffic: they are never rate-limited.
                if (!Routes.isMonitoring(path)) exchange.admitted(limiter.admit(who));
            }
            switch (path) {
                case "/health" -> service.health(exchange);
                case "/metrics" -> service.metrics(exchange);
                case "/v1/models" -> service.models(exchange);
                case "/v1/kv/stream" -> ConsoleRoutes.kvStream(exchange, console.kv());
                default -> {
                    if (Routes.isConsoleFile(path)) ConsoleRoutes.file(exchange, console.files(), request.headers());
                    else service.submit(exchange, method, ByteBufUtil.getBytes(request.content()));
                }
            }
        } catch (ApiException e) {
            service.countClientError(e);
            exchange.sendError(e);
        }
    }

    /** The current response ended: serve the next pipelined request, if any. */
    private void next(ChannelHandlerContext ctx) {
        current = null;
        FullHttpRequest queued = pipelined.poll();
        if (queued == null) return;
        try {
            serve(ctx, queued);
        } finally {
            queued.release();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (current != null) current.cancel();
        current = null;
        FullHttpRequest queued;
        while ((queued = pipelined.poll()) != null) queued.release();
        super.channelInactive(ctx);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent && current == null) ctx.close();
        else super.userEventTriggered(ctx, evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Resets and broken pipes are how clients leave, and failed TLS handshakes (plain HTTP on the
        // TLS port, an untrusted certificate) are the client's to fix; anything else is worth a line.
        boolean tls = cause instanceof DecoderException && cause.getCause() instanceof SSLException || cause instanceof SSLException;
        if (!(cause instanceof java.io.IOException) && !tls) LOG.warn("connection error: {}", cause.toString());
        ctx.close();
    }

    static String pathOf(String uri) {
        int q = uri.indexOf('?');
        String path = q < 0 ? uri : uri.substring(0, q);
        return path.length() > 1 && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
    }
}
