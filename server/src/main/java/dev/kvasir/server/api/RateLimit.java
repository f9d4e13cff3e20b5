package dev.kvasir.server.api;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Per-key limits: requests and tokens per minute (OpenAI's RPM and TPM) and requests in flight at
 * once. Zero means no limit.
 *
 * @param requestsPerMinute  requests admitted per minute per key
 * @param tokensPerMinute    prompt plus completion tokens per minute per key
 * @param concurrentRequests requests of one key being served at once
 */
public record RateLimit(long requestsPerMinute, long tokensPerMinute, int concurrentRequests) {

    public static final RateLimit NONE = new RateLimit(0, 0, 0);
    private static final Pattern PART = Pattern.compile("(\\d+)(rpm|tpm)");

    public RateLimit {
        if (requestsPerMinute < 0 || tokensPerMinute < 0 || concurrentRequests < 0) {
            throw new IllegalArgumentException("rate limits must be 0 (none) or more");
        }
    }

    /** True when nothing is limited. */
    public boolean none() {
        return requestsPerMinute == 0 && tokensPerMinute == 0 && concurrentRequests == 0;
    }

    /**
     * {@code --rate-limit}: comma-separated {@code Nrpm} and {@code Ntpm}, e.g. {@code 600rpm,100000tpm}
     * or just one of them; the concurrency limit is kept from this record.
     *
     * @throws IllegalArgumentException saying what is accepted
     */
    public RateLimit withPerMinute(String spec) {
        long rpm = 0;
        long tpm = 0;
        for (String part : spec.toLowerCase(Locale.ROOT).replace(" ", "").split(",", -1)) {
            Matcher m = PART.matcher(part);
            if (!m.matches()) {
                throw new IllegalArgumentException("'" + spec + "' is not a rate limit: give Nrpm and/or Ntpm,"
                        + " comma-separated, e.g. 600rpm,100000tpm");
            }
            long n;
            try {
                n = Long.parseLong(m.group(1));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + m.group(1) + "' is too large for a rate limit");
            }
            if (n == 0) throw new IllegalArgumentException("'" + part + "' admits nothing: omit it for no limit");
            boolean requests = m.group(2).equals("rpm");
            if ((requests ? rpm : tpm) != 0) throw new IllegalArgumentException("'" + spec + "' gives " + m.group(2) + " twice");
            if (requests) rpm = n;
            else tpm = n;
        }
        return new RateLimit(rpm, tpm, concurrentRequests);
    }

    public RateLimit withConcurrentRequests(int n) {
        return new RateLimit(requestsPerMinute, tokensPerMinute, n);
    }
}
