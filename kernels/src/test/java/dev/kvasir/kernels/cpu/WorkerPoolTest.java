package dev.kvasir.kernels.cpu;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.LockSupport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

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

    @Test
    void parkedWorkersAndAParkedCallerAreWokenForEveryJob() {
        // Chunks of 1 ms outlast the caller's spin (it parks until the last chunk's worker wakes it),
        // and the pauses between jobs outlast the workers' spin (they park until the next job).
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            try (WorkerPool pool = new WorkerPool(3)) {
                for (int job = 0; job < 50; job++) {
                    AtomicIntegerArray runs = new AtomicIntegerArray(6);
                    pool.run((chunk, worker) -> {
                        LockSupport.parkNanos(1_000_000);
                        runs.incrementAndGet(chunk);
                    }, 6);
                    for (int c = 0; c < 6; c++) assertEquals(1, runs.get(c), "job " + job + " chunk " + c);
                    LockSupport.parkNanos(20 * WorkerPool.WORKER_SPIN_NANOS);
                }
            }
        });
    }
}
