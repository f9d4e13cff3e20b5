package dev.kvasir.server;

import dev.kvasir.server.api.RateLimit;

import java.nio.file.Path;

/**
 * How the HTTP listener admits clients: TLS, the key file, connection limits and per-key limits.
 *
 * @param apiKeyFile           {@code TENANT KEY} lines, read again on SIGHUP; null: only
 *                             {@link ServerConfig#apiKey()} (or none)
 * @param headerTimeoutSeconds a connection must deliver each request's complete headers within
 *                             this many seconds of opening or of the previous response's end
 * @param maxConnections       open connections at most (more get 503); 0: no limit
 * @param rateLimit            per-key requests and tokens per minute and concurrent requests
 * @param sslKeyFile           PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC); null: plain HTTP
 * @param sslCertFile          PEM certificate chain for {@code sslKeyFile}
 */
public record ListenerConfig(Path apiKeyFile, double headerTimeoutSeconds, int maxConnections, RateLimit rateLimit,
                             Path sslKeyFile, Path sslCertFile) {

    public static final double DEFAULT_HEADER_TIMEOUT_SECONDS = 10;
    public static final int DEFAULT_MAX_CONNECTIONS = 4096;
    public static final ListenerConfig DEFAULTS = new ListenerConfig(null, DEFAULT_HEADER_TIMEOUT_SECONDS,
            DEFAULT_MAX_CONNECTIONS, RateLimit.NONE, null, null);

    public ListenerConfig {
        if (!(headerTimeoutSeconds > 0)) {
            throw new IllegalArgumentException("--header-timeout must be more than 0 seconds, got " + headerTimeoutSeconds);
        }
        if (maxConnections < 0) throw new IllegalArgumentException("--max-connections must be 0 (no limit) or more, got " + maxConnections);
        if (rateLimit == null) throw new IllegalArgumentException("rateLimit is null: use RateLimit.NONE");
        if ((sslKeyFile == null) != (sslCertFile == null)) {
            throw new IllegalArgumentException("--ssl-keyfile and --ssl-certfile go together: give both or neither");
        }
    }

    public boolean tls() {
        return sslKeyFile != null;
    }

    public ListenerConfig withApiKeyFile(Path file) {
        return new ListenerConfig(file, headerTimeoutSeconds, maxConnections, rateLimit, sslKeyFile, sslCertFile);
    }

    public ListenerConfig withHeaderTimeout(double seconds) {
        return new ListenerConfig(apiKeyFile, seconds, maxConnections, rateLimit, sslKeyFile, sslCertFile);
    }

    public ListenerConfig withMaxConnections(int max) {
        return new ListenerConfig(apiKeyFile, headerTimeoutSeconds, max, rateLimit, sslKeyFile, sslCertFile);
    }

    public ListenerConfig withRateLimit(RateLimit limit) {
        return new ListenerConfig(apiKeyFile, headerTimeoutSeconds, maxConnections, limit, sslKeyFile, sslCertFile);
    }

    public ListenerConfig withTls(Path keyFile, Path certFile) {
        return new ListenerConfig(apiKeyFile, headerTimeoutSeconds, maxConnections, rateLimit, keyFile, certFile);
    }
}
