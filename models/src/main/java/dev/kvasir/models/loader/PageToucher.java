package dev.kvasir.models.loader;

import dev.kvasir.kernels.WeightTensor;

import java.lang.foreign.ValueLayout;
import java.util.Collection;

/**
 * Reads one byte of every page of the tensors, so a large model is paged in while a progress bar
 * shows it (instead of stalling the first request), without copying anything onto the heap.
 */
final class PageToucher {

    private static final long PAGE = 4096;
    /** Keeps the JIT from discarding the reads. */
    @SuppressWarnings("unused")
    private static volatile int sink;

    private PageToucher() {}

    static void touch(String label, Collection<WeightTensor> tensors) {
        long total = 0;
        for (WeightTensor t : tensors) total += t.data().byteSize();
        if (total < Progress.THRESHOLD) return;
        Progress progress = new Progress("loading " + label, total);
        int acc = 0;
        long step = 32L << 20;
        for (WeightTensor t : tensors) {
            long size = t.data().byteSize();
            long reported = 0;
            for (long at = 0; at < size; at += PAGE) {
                acc += t.data().get(ValueLayout.JAVA_BYTE, at);
                if (at - reported >= step) {
                    progress.advance(at - reported);
                    reported = at;
                }
            }
            progress.advance(size - reported);
        }
        sink = acc;
        progress.finish();
    }
}
