package dev.kvasir.memory;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Token counts of texts the policies and the summarizer weigh again and again (the active set is
 * re-weighed after every write), kept for the most recent {@link #ENTRIES} texts. Counts come from
 * the served model's tokenizer once one is attached; until then a rough estimate of a token per
 * four characters stands in (the cache is cleared when the counter changes).
 */
final class TokenCache {
    private static final int ENTRIES = 65_536;
    /** Before a model is attached: about four characters a token, as English runs in BPE vocabularies. */
    static final TokenCounter ESTIMATE = text -> text.length() / 4 + 1;

    private volatile TokenCounter counter = ESTIMATE;
    private final Map<String, Integer> counts = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Integer> eldest) {
            return size() > ENTRIES;
        }
    };

    TokenCounter counter() {
        return counter;
    }

    synchronized void use(TokenCounter newCounter) {
        counter = newCounter;
        counts.clear();
    }

    int count(String text) {
        synchronized (this) {
            Integer n = counts.get(text);
            if (n != null) return n;
        }
        int n = counter.count(text);
        synchronized (this) {
            counts.put(text, n);
        }
        return n;
    }
}
