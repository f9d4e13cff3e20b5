package dev.kvasir.memory;

import java.time.Instant;

/** Where a memory came from: the session and turn that produced it, and when. Session and turn may be null. */
public record Source(String sessionId, String turnId, Instant time) {}
