package dev.kvasir.memory;

import java.time.Instant;

/**
 * One entry of a session's history ({@code role}: user or assistant; {@link #SUMMARY} for the
 * summary of its earlier turns), for server-side history and the summarizers.
 */
public record ChatTurn(String role, String content, Instant at) {
    public static final String SUMMARY = "summary";
}
