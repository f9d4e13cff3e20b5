package dev.kvasir.memory.summary;

import java.util.Locale;

/**
 * {@code --memory-summarizer}: who writes a session's summary. {@code model}: the served model, with
 * a prompt that keeps facts, decisions and preferences (an answer too short or empty falls back to
 * extractive); {@code extractive}: sentences picked from the turns, for models too small to
 * summarize; {@code auto} (default): the model when it is large enough to follow an instruction
 * ({@code MemoryModel#followsInstructions}), else extractive.
 */
public enum SummarizerMode {
    MODEL, EXTRACTIVE, AUTO;

    public static SummarizerMode parse(String value) {
        for (SummarizerMode m : values()) if (m.name().toLowerCase(Locale.ROOT).equals(value)) return m;
        throw new IllegalArgumentException("--memory-summarizer must be model, extractive or auto, got '" + value + "'");
    }
}
