package dev.kvasir.server.api;

/**
 * A chat request's optional {@code memory} object.
 *
 * @param sessionId        the conversation the turn belongs to (null: a new one per request)
 * @param enabled          retrieve and inject memories (needs {@code user}); false turns memory off for the request
 * @param topK             memories injected at most (null: the server's default)
 * @param maxTokens        tokens the memory block may take at most (null: the server's default)
 * @param serverHistory    {@code history: "server"}: the client sends only the new turn and the server
 *                         supplies the session's earlier turns ({@code "client"}: the messages are the whole history)
 * @param write            record the exchange for the session after the response
 * @param pinPrefixSeconds keep the session's prompt prefix in the KV cache this long (null: no pin)
 */
public record MemoryOptions(String sessionId, boolean enabled, Integer topK, Integer maxTokens, boolean serverHistory,
                            boolean write, Integer pinPrefixSeconds) {

    /** No {@code memory} object: memory on when a {@code user} is given, client history, recorded. */
    public static final MemoryOptions DEFAULT = new MemoryOptions(null, true, null, null, false, true, null);
}
