package dev.kvasir.server.console;

import dev.kvasir.server.engine.Engine;

/**
 * The web console at {@code /}: its static files (null with {@code --no-ui}) and the live KV feed
 * it draws, which {@code GET /v1/kv/stream} serves whether or not the page is on.
 */
public record WebConsole(ConsoleFiles files, KvFeed kv) implements AutoCloseable {

    /** @param ui whether to serve the page ({@code --no-ui} turns it off) */
    public static WebConsole start(Engine engine, boolean ui) {
        return new WebConsole(ui ? ConsoleFiles.load() : null, new KvFeed(engine));
    }

    /** Ends every open KV feed; call it first when the server drains. */
    @Override
    public void close() {
        kv.close();
    }
}
