package dev.kvasir.server.cli;

import sun.misc.Signal;

/**
 * SIGTERM for {@code kvasir serve}: instead of the JVM's immediate exit (status 143, streams cut
 * without {@code [DONE]}), run {@code stop} once on its own thread: the server drains and closes, and
 * the process exits 0 the ordinary way.
 */
final class TerminateSignal {

    private TerminateSignal() {}

    static void onTerminate(Runnable stop) {
        Thread drain = Thread.ofPlatform().name("kvasir-drain").unstarted(stop);
        try {
            Signal.handle(new Signal("TERM"), signal -> {
                if (drain.getState() == Thread.State.NEW) drain.start();
            });
        } catch (IllegalArgumentException e) {
            // -Xrs, or no SIGTERM here: the JVM's own handling (exit, with the shutdown hook closing the server) stays.
            System.err.println("serve: SIGTERM cannot be handled here (" + e.getMessage() + "): it stops the server without draining");
        }
    }
}
