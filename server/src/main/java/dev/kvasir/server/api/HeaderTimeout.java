package dev.kvasir.server.api;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection that has not delivered a request's complete headers within the timeout:
 * counted from the connection's start (TLS handshake included) and, on a kept-alive connection,
 * from the end of the last response. A slow-headers client (slowloris) thus holds a connection
 * for the timeout at most, and so does an idle kept-alive one, as uvicorn's keep-alive timeout
 * does for vLLM. While a request is being served nothing is timed here. Sits right after the HTTP
 * codec, where a request's head arrives once complete.
 */
final class HeaderTimeout extends ChannelDuplexHandler {

    private final long timeoutNanos;
    private ScheduledFuture<?> timer;
    private long requests;
    private long responses;

    HeaderTimeout(long timeoutNanos) {
        this.timeoutNanos = timeoutNanos;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) arm(ctx);
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        arm(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest) {
            requests++;
            disarm();
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        // A response ends with a full response (not an interim 100 Continue) or a chunked body's last part.
        boolean ends = msg instanceof FullHttpResponse full ? full.status().code() >= 200 : msg instanceof LastHttpContent;
        super.write(ctx, msg, promise);
        if (ends && ++responses >= requests) arm(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        disarm();
        super.channelInactive(ctx);
    }

    private void arm(ChannelHandlerContext ctx) {
        if (timer != null) return;
        timer = ctx.executor().schedule(() -> {
            timer = null;
            ctx.close();
        }, timeoutNanos, TimeUnit.NANOSECONDS);
    }

    private void disarm() {
        if (timer == null) return;
        timer.cancel(false);
        timer = null;
    }
}
