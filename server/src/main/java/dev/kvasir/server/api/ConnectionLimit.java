package dev.kvasir.server.api;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code --max-connections}: open connections at most. Connections past it are still accepted so
 * they can be told why: the first request gets 503 in OpenAI's shape with {@code Retry-After},
 * then the connection closes (the header timeout bounds how long it can wait to send that request).
 * Up to the same number again wait to be told; a flood beyond that is closed at once, unanswered.
 */
public final class ConnectionLimit {

    /** What becomes of a new connection. */
    enum Verdict { SERVE, REFUSE, DROP }

    private final int max;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger refusing = new AtomicInteger();

    /** @param max open connections at most; 0 for no limit */
    public ConnectionLimit(int max) {
        if (max < 0) throw new IllegalArgumentException("--max-connections must be 0 (no limit) or more, got " + max);
        this.max = max;
    }

    /** Open connections at most; 0 for no limit. */
    public int max() {
        return max;
    }

    /** Connections counted now. */
    public int open() {
        return open.get();
    }

    /** Counts {@code channel} until it closes, as served when there is room for it, else as being refused. */
    Verdict admit(Channel channel) {
        if (max == 0 ? open.incrementAndGet() > 0 : tryIncrement(open)) {
            channel.closeFuture().addListener(f -> open.decrementAndGet());
            return Verdict.SERVE;
        }
        if (tryIncrement(refusing)) {
            channel.closeFuture().addListener(f -> refusing.decrementAndGet());
            return Verdict.REFUSE;
        }
        return Verdict.DROP;
    }

    private boolean tryIncrement(AtomicInteger counter) {
        int now;
        do {
            now = counter.get();
            if (now >= max) return false;
        } while (!counter.compareAndSet(now, now + 1));
        return true;
    }

    /** The pipeline's end on a connection over the limit: answers its first request with 503 and closes. */
    static final class Refusal extends SimpleChannelInboundHandler<HttpObject> {
        private final int max;
        private final ApiService service;
        private boolean answered;

        Refusal(int max, ApiService service) {
            this.max = max;
            this.service = service;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (answered || !(msg instanceof HttpRequest request)) return;
            answered = true;
            ApiException e = ApiException.overloaded("The server has " + max
                    + " open connections, the most it accepts (--max-connections); retry shortly");
            service.countClientError(e);
            new HttpExchange(ctx, request.method().name(), ApiHandler.pathOf(request.uri()), false, () -> {}).sendError(e);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
