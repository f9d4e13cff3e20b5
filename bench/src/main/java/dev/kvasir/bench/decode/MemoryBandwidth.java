package dev.kvasir.bench.decode;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * Memory bandwidth as a large array copy sees it: {@code threads} threads each copy their slice of
 * a buffer far larger than the caches; bytes read plus bytes written over the time, best of a few
 * runs. What decode at batch 1 can hope for: every weight byte must come from memory once per token.
 */
final class MemoryBandwidth {

    private MemoryBandwidth() {}

    /** Bytes per second. */
    static double measure(int threads, long bytes, int runs) throws InterruptedException {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment src = arena.allocate(bytes, 4096);
            MemorySegment dst = arena.allocate(bytes, 4096);
            src.fill((byte) 1);
            dst.fill((byte) 0);
            long slice = bytes / threads / 4096 * 4096;
            double best = 0;
            for (int run = 0; run < runs; run++) {
                List<Thread> workers = new ArrayList<>();
                long start = System.nanoTime();
                for (int t = 0; t < threads; t++) {
                    long from = t * slice;
                    workers.add(Thread.ofPlatform().start(() -> MemorySegment.copy(src, from, dst, from, slice)));
                }
                for (Thread w : workers) w.join();
                double seconds = (System.nanoTime() - start) / 1e9;
                best = Math.max(best, 2.0 * slice * threads / seconds);
            }
            return best;
        }
    }
}
