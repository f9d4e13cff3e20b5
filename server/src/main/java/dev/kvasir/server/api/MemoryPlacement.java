package dev.kvasir.server.api;

/** Where chat puts the memories it retrieves for a turn ({@code serve --memory-placement}). */
public enum MemoryPlacement {
    /**
     * Before the user turn that retrieved them, kept there in the session's later turns: a session's
     * prompt only grows, so each turn's prompt starts with the previous one and its KV is reused.
     */
    TURN,
    /**
     * One block after the system prompt, retrieved and ordered anew each turn, as memory layers that
     * know nothing of the KV cache do: any change recomputes everything after it. The benchmark's ablation.
     */
    BLOCK
}
