package dev.kvasir.server.engine;

/**
 * Where a request's outputs go. Called on the engine thread, so an implementation must only hand
 * the output over (the HTTP layer posts it to the channel's event loop) and return at once.
 */
@FunctionalInterface
public interface OutputSink {
    void onOutput(RequestOutput output);
}
