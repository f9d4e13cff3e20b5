package dev.kvasir.memory.summary;

import dev.kvasir.memory.ChatTurn;
import dev.kvasir.memory.TokenCounter;
import java.util.List;

/** Writes one summary of a session's oldest turns; two implementations: extractive and the served model. */
public interface Summarizer {

    /** The summary of {@code turns} (oldest first) in at most {@code maxTokens}, or null when this summarizer has none to give. */
    String summarize(List<ChatTurn> turns, int maxTokens, TokenCounter counter);

    /** Drops whole words from the end until the text fits {@code maxTokens}. */
    static String fit(String text, int maxTokens, TokenCounter counter) {
        String t = text.strip();
        while (!t.isEmpty() && counter.count(t) > maxTokens) {
            int cut = t.lastIndexOf(' ', Math.max(0, t.length() - Math.max(4, t.length() / 8)));
            t = cut <= 0 ? "" : t.substring(0, cut).strip();
        }
        return t;
    }
}
