package dev.kvasir.server.api;

import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Per-key {@link RateLimit}s. Requests and tokens per minute are token buckets that hold one
 * minute's allowance and refill continuously (a key that was quiet may burst one minute's worth).
 *
 * <p>Tokens: a request's prompt tokens are charged at admission and must fit what the bucket holds
 * then; completion tokens are charged as they are generated (one per choice per step, made exact by
 * the final usage), and may take the bucket below zero, so the key waits until it has paid that
 * debt. A stream the client cancels is charged what it generated until then.
 *
 * <p>Refusals are 429 in OpenAI's shape with {@code Retry-After}: the whole seconds until the
 * bucket holds enough, or 1 for the concurrency limit.
 */
public final class RateLimiter {

    private static final double NANOS_PER_MINUTE = 60e9;

    private final RateLimit limit;
    private final LongSupplier nanoClock;
    private final ConcurrentHashMap<String, KeyState> keys = new ConcurrentHashMap<>();

    /** @param nanoClock monotonic nanoseconds ({@code System::nanoTime} outside tests) */
    public RateLimiter(RateLimit limit, LongSupplier nanoClock) {
        this.limit = limit;
        this.nanoClock = nanoClock;
    }

    public RateLimit limit() {
        return limit;
    }

    /**
     * Counts one request of {@code key}, and holds one of its concurrent slots until
     * {@link Admission#release()}.
     *
     * @throws ApiException 429 when the key is out of requests this minute or of concurrent slots
     */
    public Admission admit(ApiKeys.Principal key) {
        if (limit.none()) return Admission.UNLIMITED;
        KeyState s = keys.computeIfAbsent(key.keyId(), k -> new KeyState(nanoClock.getAsLong()));
        synchronized (s) {
            s.refill(nanoClock.getAsLong());
            if (limit.concurrentRequests() > 0 && s.inFlight >= limit.concurrentRequests()) {
                throw ApiException.rateLimited("too_many_concurrent_requests", "This key already has "
                        + s.inFlight + " requests in progress, the most allowed at once (--max-concurrent-requests-per-key "
                        + limit.concurrentRequests() + "). Retry when one has finished.", 1);
            }
            if (limit.requestsPerMinute() > 0) {
                if (s.requests < 1) {
                    throw limited("requests per minute (RPM)", limit.requestsPerMinute(), 1 - s.requests, limit.requestsPerMinute());
                }
                s.requests -= 1;
            }
            s.inFlight++;
        }
        return new Admission(this, s);
    }

    private static ApiException limited(String what, long perMinute, double missing, long capacity) {
        long retry = Math.max(1, (long) Math.ceil(missing * 60 / capacity));
        return ApiException.rateLimited("rate_limit_exceeded", "Rate limit reached for " + what + ": limit " + perMinute
                + " per minute for this key. Please try again in " + retry + "s.", retry);
    }

    /** One admitted request's account: its tokens and its concurrent slot. Thread-safe. */
    public static final class Admission {

        /** No limits: charges nothing, holds nothing. */
        public static final Admission UNLIMITED = new Admission(null, null);

        private final RateLimiter limiter;
        private final KeyState state;
        private long completionCharged;
        private boolean released;

        private Admission(RateLimiter limiter, KeyState state) {
            this.limiter = limiter;
            this.state = state;
        }

        /**
         * Charges the request's prompt tokens.
         *
         * @throws ApiException 429 when the key's bucket does not hold them now (nothing is charged)
         */
        public void chargePromptTokens(long tokens) {
            if (state == null || limiter.limit.tokensPerMinute() == 0) return;
            long capacity = limiter.limit.tokensPerMinute();
            synchronized (state) {
                state.refill(limiter.nanoClock.getAsLong());
                if (tokens > capacity) {
                    throw ApiException.rateLimited("rate_limit_exceeded", "Request too large: " + tokens
                            + " prompt tokens, more than this key's limit of " + capacity + " tokens per minute (TPM).", 0);
                }
                if (state.tokens < tokens) throw limited("tokens per minute (TPM)", capacity, tokens - state.tokens, capacity);
                state.tokens -= tokens;
            }
        }

        /** Charges {@code tokens} more generated tokens (the bucket may go below zero). */
        public void chargeCompletionTokens(long tokens) {
            if (state == null || tokens <= 0) return;
            synchronized (state) {
                completionCharged += tokens;
                if (limiter.limit.tokensPerMinute() > 0) {
                    state.refill(limiter.nanoClock.getAsLong());
                    state.tokens -= tokens;
                }
            }
        }

        /** The request's final completion count: charges what the step-by-step count missed. */
        public void settleCompletionTokens(long total) {
            if (state == null) return;
            long missing;
            synchronized (state) {
                missing = total - completionCharged;
            }
            chargeCompletionTokens(missing);
        }

        /** The response ended: frees the concurrent slot. Idempotent. */
        public void release() {
            if (state == null) return;
            synchronized (state) {
                if (released) return;
                released = true;
                state.inFlight--;
            }
        }
    }

    /** One key's buckets and slots; guarded by its own monitor. */
    private final class KeyState {
        double requests;
        double tokens;
        int inFlight;
        long lastNanos;

        KeyState(long now) {
            requests = limit.requestsPerMinute();
            tokens = limit.tokensPerMinute();
            lastNanos = now;
        }

        void refill(long now) {
            double minutes = (now - lastNanos) / NANOS_PER_MINUTE;
            lastNanos = now;
            if (minutes <= 0) return;
            requests = Math.min(limit.requestsPerMinute(), requests + minutes * limit.requestsPerMinute());
            tokens = Math.min(limit.tokensPerMinute(), tokens + minutes * limit.tokensPerMinute());
        }
    }
}
