package dev.kvasir.server.engine;

import java.util.List;

/**
 * Finds stop strings in a choice's text as it is generated. Text that could still turn into a stop
 * string is held back, so a stop string (or a piece of one) never reaches the client.
 *
 * <p>Linear per token: each stop string is followed by a Knuth–Morris–Pratt automaton whose state is
 * the longest suffix of the text so far that is a prefix of that stop, so every new character costs
 * amortised O(1) per stop, and at most the longest stop's length minus one characters are held.
 */
final class StopMatcher {

    private final String[] stops;
    /** Per stop, KMP's failure function: {@code fail[k]} is the longest proper border of its first k + 1 chars. */
    private final int[][] fail;
    /** Per stop, how many of its first characters the text so far ends with. */
    private final int[] state;
    private final StringBuilder held = new StringBuilder();
    /** Where in {@link #held} the earliest stop found so far starts, while an earlier one may still complete; -1 for none. */
    private int cut = -1;
    private boolean stopped;

    StopMatcher(List<String> stops) {
        this.stops = stops.toArray(String[]::new);
        this.fail = new int[this.stops.length][];
        this.state = new int[this.stops.length];
        for (int s = 0; s < this.stops.length; s++) {
            if (this.stops[s].isEmpty()) throw new IllegalArgumentException("empty stop string");
            fail[s] = failureFunction(this.stops[s]);
        }
    }

    /** Adds generated text; returns the text now safe to emit. Check {@link #stopped()} afterwards. */
    String push(String text) {
        if (stopped) return "";
        if (stops.length == 0) return text;
        int base = held.length();
        held.append(text);
        // The earliest-starting stop wins: a found stop is final once no stop that started earlier
        // can still complete, so the decision may wait for the next token with the text held.
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            int end = base + i + 1;
            for (int s = 0; s < stops.length; s++) {
                int k = advance(s, c);
                if (k == stops[s].length()) {
                    int start = end - k;
                    if (cut < 0 || start < cut) cut = start;
                    state[s] = fail[s][k - 1];
                }
            }
            if (cut >= 0 && earliestPending(end) >= cut) return stop();
        }
        int safe = earliestPending(held.length());
        if (cut >= 0) safe = Math.min(safe, cut);
        String out = held.substring(0, safe);
        held.delete(0, safe);
        if (cut >= 0) cut -= safe;
        return out;
    }

    /**
     * The held-back text, at the end of a choice that finished for another reason; cut at a stop
     * found while an earlier-starting one was still open (which then counts as {@link #stopped()}).
     */
    String flush() {
        if (stopped) return "";
        if (cut >= 0) return stop();
        String out = held.toString();
        held.setLength(0);
        return out;
    }

    private String stop() {
        stopped = true;
        String out = held.substring(0, cut);
        held.setLength(0);
        return out;
    }

    boolean stopped() {
        return stopped;
    }

    /** Stop {@code s}'s state after one more character. */
    private int advance(int s, char c) {
        String stop = stops[s];
        int k = state[s];
        while (k > 0 && stop.charAt(k) != c) k = fail[s][k - 1];
        if (stop.charAt(k) == c) k++;
        state[s] = k;
        return k;
    }

    /** Where the earliest partial match still open at {@code end} starts; {@code end} if none. */
    private int earliestPending(int end) {
        int earliest = end;
        for (int k : state) earliest = Math.min(earliest, end - k);
        return earliest;
    }

    private static int[] failureFunction(String p) {
        int[] f = new int[p.length()];
        for (int i = 1, k = 0; i < p.length(); i++) {
            while (k > 0 && p.charAt(i) != p.charAt(k)) k = f[k - 1];
            if (p.charAt(i) == p.charAt(k)) k++;
            f[i] = k;
        }
        return f;
    }
}
