package dev.kvasir.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WorkerPoolTest {

    @Test
    void everyChunkOfEveryJobRunsExactlyOnce() {
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int job = 0; job < 2000; job++) {
                int chunks = 1 + job % 37;
                AtomicIntegerArray runs = new AtomicIntegerArray(chunks);
                pool.run((chunk, worker) -> runs.incrementAndGet(chunk), chunks);
                for (int c = 0; c < chunks; c++) assertEquals(1, runs.get(c), "job " + job + " chunk " + c);
            }
        }
    }

    @Test
    void aFailingChunkFailsTheCallerAndThePoolGoesOn() {
        try (WorkerPool pool = new WorkerPool(2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.run((chunk, worker) -> {
                if (chunk == 5) throw new IllegalStateException("chunk 5");
            }, 16));
            assertEquals("chunk 5", e.getMessage());
            AtomicIntegerArray runs = new AtomicIntegerArray(8);
            pool.run((chunk, worker) -> runs.incrementAndGet(chunk), 8);
            for (int c = 0; c < 8; c++) assertEquals(1, runs.get(c));
        }
    }

    @Test
    void workerIndicesStayBelowTheThreadCount() {
        try (WorkerPool pool = new WorkerPool(2)) {
            AtomicIntegerArray seen = new AtomicIntegerArray(2);
            for (int i = 0; i < 200; i++) pool.run((chunk, worker) -> seen.incrementAndGet(worker), 64);
            assertEquals(200 * 64, seen.get(0) + seen.get(1));
        }
    }
}
