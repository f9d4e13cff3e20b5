package dev.kvasir.server.api;

import dev.kvasir.server.ListenerConfig;
import io.netty.handler.ssl.SslContext;

/**
 * What stands between a client and the API, per server: TLS, the accepted keys, per-key limits, the
 * connection limit and the header timeout.
 *
 * @param tls                TLS for every connection; null: plain HTTP
 * @param keys               who may call, and as which tenant
 * @param limiter            per-key requests, tokens and concurrent requests
 * @param connections        open connections at most
 * @param headerTimeoutNanos time a connection has to deliver a request's complete headers
 */
public record ApiGuards(SslContext tls, ApiKeys keys, RateLimiter limiter, ConnectionLimit connections,
                        long headerTimeoutNanos) {

    /**
     * The guards {@code kvasir serve}'s flags ask for. Reads the key file and the TLS files, so a
     * bad one stops the server before the model is loaded.
     *
     * @param apiKey {@code --api-key} (tenant {@value ApiKeys#DEFAULT_TENANT}), or null
     * @throws IllegalArgumentException naming the flag, file and line that is wrong
     */
    public static ApiGuards of(String apiKey, ListenerConfig listener) {
        ApiKeys keys = ApiKeys.load(apiKey, listener.apiKeyFile());
        SslContext tls = listener.tls() ? TlsContexts.server(listener.sslKeyFile(), listener.sslCertFile()) : null;
        return new ApiGuards(tls, keys, new RateLimiter(listener.rateLimit(), System::nanoTime),
                new ConnectionLimit(listener.maxConnections()), (long) (listener.headerTimeoutSeconds() * 1e9));
    }
}
