package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.DeviceTensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The in-process all-reduce of CPU ranks: every rank ends with the same sums, step after step; a failed rank frees the others. */
class CpuAllReduceTest {

    @Test
    void fourRanksEndWithTheSameSums() throws Exception {
        int ranks = 4;
        try (CpuAllReduce group = new CpuAllReduce(ranks); CpuBackend backend = new CpuBackend(1)) {
            ExecutorService threads = Executors.newFixedThreadPool(ranks);
            try {
                // Counts that grow (the shared buffer with them), shrink, and leave a scalar tail.
                int[] counts = {5, 1000, 37, 4099, 8};
                List<Future<float[][]>> results = new ArrayList<>();
                for (int r = 0; r < ranks; r++) {
                    int rank = r;
                    results.add(threads.submit(() -> {
                        float[][] out = new float[counts.length][];
                        DeviceTensor t = backend.allocate(5000);
                        for (int step = 0; step < counts.length; step++) {
                            float[] values = new float[counts[step]];
                            for (int i = 0; i < values.length; i++) values[i] = (rank + 1) * 0.5f + i * (rank - 1.5f) + step;
                            backend.upload(values, 0, t, 0, values.length);
                            group.rank(rank).sumInPlace(t, values.length);
                            out[step] = new float[values.length];
                            backend.download(t, 0, out[step], 0, values.length);
                        }
                        return out;
                    }));
                }
                float[][] first = results.get(0).get(30, TimeUnit.SECONDS);
                for (int step = 0; step < counts.length; step++) {
                    for (int i = 0; i < counts[step]; i++) {
                        float want = 0;
                        for (int r = 0; r < ranks; r++) want += (r + 1) * 0.5f + i * (r - 1.5f) + step;
                        assertEquals(want, first[step][i], 1e-3f * Math.max(1, Math.abs(want)), "step " + step + " value " + i);
                    }
                }
                for (int r = 1; r < ranks; r++) {
                    float[][] other = results.get(r).get(30, TimeUnit.SECONDS);
                    for (int step = 0; step < counts.length; step++) assertArrayEquals(first[step], other[step], "rank " + r);
                }
            } finally {
                threads.shutdownNow();
            }
        }
    }

    @Test
    void aRankThatNeverComesDoesNotHangTheOthersOnceAborted() throws Exception {
        try (CpuAllReduce group = new CpuAllReduce(2); CpuBackend backend = new CpuBackend(1)) {
            ExecutorService threads = Executors.newSingleThreadExecutor();
            try {
                DeviceTensor t = backend.allocate(16);
                Future<?> waiting = threads.submit(() -> group.rank(0).sumInPlace(t, 16));
                Thread.sleep(100);
                assertTrue(!waiting.isDone(), "rank 0 waits for rank 1");
                group.abort();
                Exception e = assertThrows(java.util.concurrent.ExecutionException.class, () -> waiting.get(10, TimeUnit.SECONDS));
                assertEquals("another tensor-parallel rank failed in this step", e.getCause().getMessage());
                // Once every rank has returned, the group works again.
                group.recover();
                Future<?> again = threads.submit(() -> group.rank(0).sumInPlace(t, 16));
                group.rank(1).sumInPlace(backend.allocate(16), 16);
                again.get(10, TimeUnit.SECONDS);
            } finally {
                threads.shutdownNow();
            }
        }
    }
}
