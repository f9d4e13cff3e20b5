package dev.kvasir.models.loader;

import java.io.PrintStream;

/**
 * A one-line progress bar on stderr for loading large files; silent below {@link #THRESHOLD} bytes
 * so tests and small models print nothing. Redrawn in place on a terminal; into a log file or pipe
 * it writes a line every 25% instead of a hundred carriage-return frames.
 */
final class Progress {

    static final long THRESHOLD = 100L << 20;
    private static final int WIDTH = 30;

    private final PrintStream out;
    private final String label;
    private final long total;
    private final boolean enabled;
    private final boolean terminal = System.console() != null && System.console().isTerminal();
    private long done;
    private int shownPercent = -1;

    Progress(String label, long totalBytes) {
        this.out = System.err;
        this.label = label;
        this.total = Math.max(1, totalBytes);
        this.enabled = totalBytes >= THRESHOLD;
    }

    void advance(long bytes) {
        done += bytes;
        if (!enabled) return;
        int percent = (int) Math.min(100, done * 100 / total);
        if (percent == shownPercent || (!terminal && percent / 25 == shownPercent / 25 && shownPercent >= 0)) return;
        shownPercent = percent;
        int filled = percent * WIDTH / 100;
        out.printf("%s%s [%s%s] %3d%% %,d / %,d MB%s", terminal ? "\r" : "", label, "#".repeat(filled),
                " ".repeat(WIDTH - filled), percent, done >> 20, total >> 20, terminal ? "" : "\n");
        out.flush();
    }

    void finish() {
        if (enabled && terminal && shownPercent >= 0) {
            out.println();
            out.flush();
        }
    }
}
