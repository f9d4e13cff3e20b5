package dev.kvasir.server.api;

import io.netty.handler.codec.http.HttpResponseStatus;
import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The buckets' arithmetic on a clock the test moves; the server tests drive the same class over HTTP. */
class RateLimiterTest {

    private static final ApiKeys.Principal A = new ApiKeys.Principal("a", "0a");
    private static final ApiKeys.Principal B = new ApiKeys.Principal("b", "0b");
    private final AtomicLong now = new AtomicLong(1_000);

    private RateLimiter limiter(String perMinute, int concurrent) {
        RateLimit limit = RateLimit.NONE.withConcurrentRequests(concurrent);
        return new RateLimiter(perMinute == null ? limit : limit.withPerMinute(perMinute), now::get);
    }

    private void advanceSeconds(double s) {
        now.addAndGet((long) (s * 1e9));
    }

    @Test
    void requestsPerMinuteBurstOneMinuteThenRefillContinuously() {
        RateLimiter r = limiter("60rpm", 0);
        for (int i = 0; i < 60; i++) r.admit(A).release();
        ApiException e = assertThrows(ApiException.class, () -> r.admit(A));
        assertEquals(HttpResponseStatus.TOO_MANY_REQUESTS, e.status());
        assertEquals("rate_limit_exceeded", e.type());
        assertEquals(1, e.retryAfterSeconds());
        assertTrue(e.getMessage().contains("requests per minute"), e.getMessage());
        assertDoesNotThrow(() -> r.admit(B).release(), "another key has its own bucket");
        advanceSeconds(1.01);
        r.admit(A).release();
        assertThrows(ApiException.class, () -> r.admit(A));
    }

    @Test
    void promptTokensMustFitAndCompletionTokensRunIntoDebt() {
        RateLimiter r = limiter("1000tpm", 0);
        RateLimiter.Admission first = r.admit(A);
        first.chargePromptTokens(400);
        first.chargeCompletionTokens(500);
        first.settleCompletionTokens(900);    // the engine said 900: 400 more than counted step by step
        first.release();
        // 1000 - 400 - 900 = -300: a 10-token prompt needs 310 tokens of refill, 18.6 s at 1000/min.
        RateLimiter.Admission second = r.admit(A);
        ApiException e = assertThrows(ApiException.class, () -> second.chargePromptTokens(10));
        assertEquals(19, e.retryAfterSeconds(), e.getMessage());
        assertTrue(e.getMessage().contains("tokens per minute"), e.getMessage());
        advanceSeconds(18.7);
        assertDoesNotThrow(() -> second.chargePromptTokens(10));
    }

    @Test
    void aPromptLargerThanAMinutesTokensCanNeverPass() {
        RateLimiter r = limiter("100tpm", 0);
        ApiException e = assertThrows(ApiException.class, () -> r.admit(A).chargePromptTokens(101));
        assertEquals(0, e.retryAfterSeconds(), "no retry can help");
        assertTrue(e.getMessage().contains("Request too large"), e.getMessage());
    }

    @Test
    void concurrentRequestsPerKeyAreHeldUntilReleased() {
        RateLimiter r = limiter(null, 2);
        RateLimiter.Admission one = r.admit(A);
        RateLimiter.Admission two = r.admit(A);
        ApiException e = assertThrows(ApiException.class, () -> r.admit(A));
        assertEquals("too_many_concurrent_requests", e.code());
        r.admit(B).release();
        one.release();
        one.release();  // idempotent: must not free a second slot
        RateLimiter.Admission three = r.admit(A);
        assertThrows(ApiException.class, () -> r.admit(A));
        two.release();
        three.release();
    }

    @Test
    void rateLimitSpecsAreParsedOrRefused() {
        RateLimit l = RateLimit.NONE.withPerMinute("600rpm,100000tpm");
        assertEquals(600, l.requestsPerMinute());
        assertEquals(100_000, l.tokensPerMinute());
        assertEquals(5000, RateLimit.NONE.withPerMinute("5000TPM").tokensPerMinute());
        for (String bad : new String[] {"", "600", "600rps", "600rpm,", "1rpm,2rpm", "0rpm", "99999999999999999999rpm"}) {
            assertThrows(IllegalArgumentException.class, () -> RateLimit.NONE.withPerMinute(bad), bad);
        }
    }

    @Test
    void noLimitsAdmitEverythingWithoutState() {
        RateLimiter r = limiter(null, 0);
        for (int i = 0; i < 10_000; i++) {
            RateLimiter.Admission a = r.admit(A);
            assertSame(RateLimiter.Admission.UNLIMITED, a);
            a.chargePromptTokens(1_000_000);
        }
    }
}
