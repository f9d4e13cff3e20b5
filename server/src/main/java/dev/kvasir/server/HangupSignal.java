package dev.kvasir.server;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

import java.util.concurrent.CopyOnWriteArrayList;

/**
 * SIGHUP, the operator's "read your files again": every registered action runs on each signal. A
 * JVM has one handler per signal, and tests run several servers in one JVM, so the handler is
 * installed once and calls whatever servers are running. Without a registration the JVM's own
 * handling (exit) is left alone until the first one.
 */
public final class HangupSignal {

    private static final Logger LOG = LoggerFactory.getLogger(HangupSignal.class);
    private static final CopyOnWriteArrayList<Runnable> ACTIONS = new CopyOnWriteArrayList<>();
    private static boolean installed;

    private HangupSignal() {}

    /** A registered action; closing it stops it from running. */
    public interface Registration extends AutoCloseable {
        @Override
        void close();
    }

    /** Runs {@code action} on every SIGHUP until the returned registration is closed. */
    public static Registration onHangup(Runnable action) {
        install();
        ACTIONS.add(action);
        return () -> ACTIONS.remove(action);
    }

    private static synchronized void install() {
        if (installed) return;
        try {
            Signal.handle(new Signal("HUP"), signal -> ACTIONS.forEach(HangupSignal::runSafely));
            installed = true;
        } catch (IllegalArgumentException e) {
            // A platform without SIGHUP, or one the JVM was told to leave alone (-Xrs).
            LOG.warn("SIGHUP cannot be handled here ({}): reloading files on SIGHUP is off", e.getMessage());
        }
    }

    private static void runSafely(Runnable action) {
        try {
            action.run();
        } catch (RuntimeException e) {
            LOG.error("SIGHUP action failed", e);
        }
    }
}
