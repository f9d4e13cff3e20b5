package dev.kvasir.server.api;

import dev.kvasir.server.console.WebConsole;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;

import java.util.concurrent.TimeUnit;

/**
 * Per connection: TLS when configured, HTTP/1.1 codec, the header timeout, then either the refusal
 * (over the connection limit) or body aggregation with a size limit and the API.
 */
public final class ApiInitializer extends ChannelInitializer<SocketChannel> {

    private final ApiService service;
    private final int maxBodyBytes;
    private final ApiGuards guards;
    private final WebConsole console;

    /** @param console the web console's files (off with --no-ui) and the KV feed */
    public ApiInitializer(ApiService service, int maxBodyBytes, ApiGuards guards, WebConsole console) {
        this.service = service;
        this.maxBodyBytes = maxBodyBytes;
        this.guards = guards;
        this.console = console;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ConnectionLimit.Verdict verdict = guards.connections().admit(ch);
        if (verdict == ConnectionLimit.Verdict.DROP) {
            ch.close();
            return;
        }
        ChannelPipeline p = ch.pipeline();
        if (guards.tls() != null) p.addLast(guards.tls().newHandler(ch.alloc()));
        p.addLast(new HttpServerCodec(4096, 16384, 65536));
        p.addLast(new HeaderTimeout(guards.headerTimeoutNanos()));
        if (verdict == ConnectionLimit.Verdict.REFUSE) {
            p.addLast(new ConnectionLimit.Refusal(guards.connections().max(), service));
            return;
        }
        p.addLast(new LimitedAggregator(maxBodyBytes));
        // Connections idle (no request, no response bytes) for 10 minutes are closed.
        p.addLast(new IdleStateHandler(0, 0, 600, TimeUnit.SECONDS));
        p.addLast(new ApiHandler(service, guards.keys(), guards.limiter(), console));
    }

    /** Answers an oversized body with OpenAI's error JSON (413) instead of Netty's empty response. */
    private static final class LimitedAggregator extends HttpObjectAggregator {
        private final int limit;

        LimitedAggregator(int limit) {
            super(limit);
            this.limit = limit;
        }

        @Override
        protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
            // The rest of the body is still on the wire; close after answering rather than drain it.
            HttpRequest request = (HttpRequest) oversized;
            HttpExchange exchange = new HttpExchange(ctx, request.method().name(), ApiHandler.pathOf(request.uri()),
                    false, () -> {});
            exchange.sendError(ApiException.tooLarge(limit));
        }
    }
}
