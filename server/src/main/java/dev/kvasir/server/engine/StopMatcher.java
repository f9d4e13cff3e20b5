package dev.kvasir.server.engine;

import java.util.List;

/**
 * Finds stop strings in a choice's text as it is generated. Text that could still turn into a stop
 * string is held back, so a stop string (or a piece of one) never reaches the client.
 */
final class StopMatcher {

    private final List<String> stops;
    private final int longest;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    StopMatcher(List<String> stops) {
        this.stops = stops;
        int max = 0;
        for (String s : stops) max = Math.max(max, s.length());
        this.longest = max;
    }

    /** Adds generated text; returns the text now safe to emit. Check {@link #stopped()} afterwards. */
    String push(String text) {
        if (stopped) return "";
        if (stops.isEmpty()) return text;
        held.append(text);
        int cut = -1;
        for (String s : stops) {
            int at = held.indexOf(s);
            if (at >= 0 && (cut < 0 || at < cut)) cut = at;
        }
        if (cut >= 0) {
            stopped = true;
            String out = held.substring(0, cut);
            held.setLength(0);
            return out;
        }
        int keep = heldSuffix();
        String out = held.substring(0, held.length() - keep);
        held.delete(0, held.length() - keep);
        return out;
    }

    /** The held-back text, at the end of a choice that finished for another reason. */
    String flush() {
        String out = stopped ? "" : held.toString();
        held.setLength(0);
        return out;
    }

    boolean stopped() {
        return stopped;
    }

    /** Length of the longest suffix of the held text that is a proper prefix of some stop string. */
    private int heldSuffix() {
        int n = held.length();
        for (int k = Math.min(n, longest - 1); k > 0; k--) {
            for (String s : stops) {
                if (k < s.length() && endsWithPrefix(n, s, k)) return k;
            }
        }
        return 0;
    }

    private boolean endsWithPrefix(int n, String s, int k) {
        for (int i = 0; i < k; i++) {
            if (held.charAt(n - k + i) != s.charAt(i)) return false;
        }
        return true;
    }
}
