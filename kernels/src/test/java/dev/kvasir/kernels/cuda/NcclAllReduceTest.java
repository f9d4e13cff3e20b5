package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.DeviceTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link NcclAllReduce} over two {@link CudaBackend} ranks of one process. Needs two devices: on a
 * GPU machine with fewer it skips ("needs 2 GPUs"), and scripts/gpu-check leaves the multi-gpu tag
 * out there; the cuda-sim execution runs it on the simulator's two devices (KVASIR_SIM_DEVICES=2,
 * kernels pom) with the fake libnccl.so.2 (native/sim/nccl.cpp), where it must not skip.
 */
@Tag("multi-gpu")
class NcclAllReduceTest {

    private static final int N = 1000;
    private static CudaBackend[] ranks;
    private static NcclAllReduce nccl;
    /** A thread per rank (not the common pool, which may have a single worker on a small machine). */
    private static final ExecutorService perRank = Executors.newFixedThreadPool(2);

    /** Skips without two devices (fails instead in cuda-sim), then sets up the two ranks once. */
    private static void requireTwoRanks() {
        CudaTestSupport.requireCuda();
        int devices = CudaRuntime.deviceCount();
        if (CudaTestSupport.simulated()) {
            assertTrue(devices >= 2, () -> "the cuda-sim execution must give the simulator two devices"
                    + " (KVASIR_SIM_DEVICES=2 in the kernels pom), it has " + devices);
        }
        assumeTrue(devices >= 2, () -> "needs 2 GPUs, found " + devices);
        if (ranks == null) {
            ranks = new CudaBackend[] {new CudaBackend(new TensorParallel(0, 2), KvDtype.F16),
                    new CudaBackend(new TensorParallel(1, 2), KvDtype.F16)};
            nccl = NcclAllReduce.initAll(List.of(ranks));
        }
    }

    @AfterAll
    static void stop() {
        perRank.shutdown();
        if (nccl != null) nccl.close();
        if (ranks != null) for (CudaBackend b : ranks) b.close();
    }

    private static float[] values(int rank) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) v[i] = rank == 0 ? i % 97 : 3 * (i % 89) - 50;
        return v;
    }

    private static List<DeviceTensor> upload() {
        List<DeviceTensor> t = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            DeviceTensor d = ranks[r].allocate(N);
            ranks[r].upload(values(r), 0, d, 0, N);
            t.add(d);
        }
        return t;
    }

    private static float[] download(int rank, DeviceTensor t) {
        float[] out = new float[N];
        ranks[rank].download(t, 0, out, 0, N);
        return out;
    }

    private static void free(List<DeviceTensor> tensors) {
        for (int r = 0; r < 2; r++) ranks[r].free(tensors.get(r));
    }

    @Test
    void groupedAllReduceLeavesTheSumOnEveryRank() {
        requireTwoRanks();
        assertEquals(2, nccl.worldSize());
        assertTrue(NcclAllReduce.version().startsWith("2."), NcclAllReduce.version());
        List<DeviceTensor> t = upload();
        int count = 600; // a prefix: the rest must stay as it was
        nccl.allReduce(t, count);
        float[] a = values(0), b = values(1), want = new float[N];
        for (int i = 0; i < N; i++) want[i] = i < count ? a[i] + b[i] : 0;
        for (int r = 0; r < 2; r++) {
            float[] got = download(r, t.get(r)), mine = values(r);
            for (int i = count; i < N; i++) want[i] = mine[i];
            assertArrayEquals(want, got, "rank " + r); // small integers: exact in f32
        }
        free(t);
    }

    @Test
    void oneThreadPerRankUsesTheRankHooks() {
        requireTwoRanks();
        List<DeviceTensor> t = upload();
        List<CompletableFuture<Void>> threads = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            int rank = r;
            threads.add(CompletableFuture.runAsync(() -> nccl.rank(rank).sumInPlace(t.get(rank), N), perRank));
        }
        threads.forEach(CompletableFuture::join);
        float[] a = values(0), b = values(1), want = new float[N];
        for (int i = 0; i < N; i++) want[i] = a[i] + b[i];
        assertArrayEquals(want, download(0, t.get(0)));
        assertArrayEquals(want, download(1, t.get(1)));
        free(t);
    }

    @Test
    void wrongArgumentsAreRefusedBeforeNccl() {
        requireTwoRanks();
        List<DeviceTensor> t = upload();
        IllegalArgumentException small = assertThrows(IllegalArgumentException.class, () -> nccl.allReduce(t, N + 1));
        assertTrue(small.getMessage().contains("all-reduce of rank 0 needs 1001 floats but the tensor holds 1000"),
                small.getMessage());
        IllegalArgumentException one = assertThrows(IllegalArgumentException.class, () -> nccl.allReduce(t.subList(0, 1), N));
        assertTrue(one.getMessage().contains("1 tensors for 2 ranks"), one.getMessage());
        IllegalArgumentException order = assertThrows(IllegalArgumentException.class,
                () -> NcclAllReduce.initAll(List.of(ranks[1], ranks[0])));
        assertTrue(order.getMessage().contains("wants ranks 0 .. 1 of 2, in order"), order.getMessage());
        assertArrayEquals(values(0), download(0, t.get(0)), "nothing ran");
        free(t);
    }

    /** Mismatched counts: real NCCL would hang or corrupt memory, the simulator's names the mismatch. */
    @Test
    @Tag("cuda-sim-only")
    void mismatchedCountsFailOnEveryRank() {
        assumeTrue(CudaTestSupport.simulated(), "on real NCCL mismatched counts hang: only the simulator reports them");
        requireTwoRanks();
        List<DeviceTensor> t = upload();
        List<CompletableFuture<Void>> threads = new ArrayList<>();
        for (int r = 0; r < 2; r++) {
            int rank = r;
            threads.add(CompletableFuture.runAsync(() -> nccl.rank(rank).sumInPlace(t.get(rank), N - rank), perRank));
        }
        for (int r = 0; r < 2; r++) {
            int rank = r;
            CompletionException e = assertThrows(CompletionException.class, () -> threads.get(rank).join());
            String m = e.getCause().getMessage();
            assertTrue(m.contains("ncclAllReduce(rank " + r + " of 2, " + (N - r) + " floats) failed: ncclInvalidUsage (invalid usage"),
                    m);
        }
        assertArrayEquals(values(1), download(1, t.get(1)), "a failed collective changes nothing");
        free(t);
    }

    /** One thread calling two ranks' hooks without a group: real NCCL would hang, the simulator says so. */
    @Test
    @Tag("cuda-sim-only")
    void oneThreadTwoRanksWithoutAGroupIsRefused() {
        assumeTrue(CudaTestSupport.simulated(), "on real NCCL this hangs: only the simulator reports it");
        requireTwoRanks();
        List<DeviceTensor> t = upload();
        CudaException e = assertThrows(CudaException.class, () -> nccl.rank(0).sumInPlace(t.get(0), N));
        assertTrue(e.getMessage().contains("ncclInvalidUsage"), e.getMessage());
        assertArrayEquals(values(0), download(0, t.get(0)));
        free(t);
    }

    @Test
    void aSingleRankIsTheIdentity() {
        CudaTestSupport.requireCuda();
        try (CudaBackend single = new CudaBackend(); NcclAllReduce one = NcclAllReduce.initAll(List.of(single))) {
            assertEquals(1, one.worldSize());
            float[] v = new float[N];
            for (int i = 0; i < N; i++) v[i] = (i * 7919 % 1013) / 7f - 50;
            DeviceTensor t = single.allocate(N);
            single.upload(v, 0, t, 0, N);
            one.allReduce(List.of(t), N);
            one.rank(0).sumInPlace(t, N);
            float[] got = new float[N];
            single.download(t, 0, got, 0, N);
            assertArrayEquals(v, got);
            single.free(t);
        }
    }
}
