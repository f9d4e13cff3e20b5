package dev.kvasir.memory;

import java.time.Instant;

/** One recorded message of a session ({@code role}: user or assistant), for server-side history. */
public record ChatTurn(String role, String content, Instant at) {}
