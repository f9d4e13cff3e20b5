package dev.kvasir.kernels.cuda;

import dev.kvasir.kernels.AttentionBatch;
import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.KvCache;
import dev.kvasir.kernels.KvLayout;
import dev.kvasir.kernels.MemoryPlan;
import dev.kvasir.kernels.RopeFrequencies;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.kernels.cpu.KvStorage;
import dev.kvasir.kernels.quant.Quant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every {@link CudaBackend} operation against the CPU backend, the reference, on random inputs.
 * Skips with the probe's reason where there is no usable GPU; runs on the CPU simulator in the
 * cuda-sim execution ({@link CudaTestSupport}).
 */
class CudaBackendTest {

    private static CudaBackend gpu;
    private static CpuBackend cpu;
    private static Arena arena;
    private final Random random = new Random(20240607);

    /** Per test, so that each one reports itself skipped with the reason. */
    @BeforeEach
    void start() {
        CudaTestSupport.requireCuda();
        if (gpu == null) {
            gpu = new CudaBackend();
            cpu = new CpuBackend(2, KvStorage.F32, false); // float activations: the reference the GPU kernels follow
            arena = Arena.ofShared();
        }
    }

    @AfterAll
    static void stop() {
        if (gpu != null) gpu.close();
        if (cpu != null) cpu.close();
        if (arena != null) arena.close();
    }

    private float[] randoms(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (random.nextFloat() * 2 - 1) * scale;
        return v;
    }

    private WeightTensor weight(GgmlType type, int rows, int cols, float scale) {
        float[] values = randoms(rows * cols, scale);
        MemorySegment data = arena.allocate(type.bytesFor((long) rows * cols), 64);
        Quant.quantize(type, values, 0, values.length, data, 0);
        return new WeightTensor("w", type, rows == 1 ? new long[] {cols} : new long[] {cols, rows}, data);
    }

    /** The same values as a tensor on each backend. */
    private record Pair(DeviceTensor g, DeviceTensor c, int n) {
    }

    private Pair tensor(float[] values) {
        return tensor(gpu, values);
    }

    private static Pair tensor(CudaBackend on, float[] values) {
        DeviceTensor g = on.allocate(values.length), c = cpu.allocate(values.length);
        on.upload(values, 0, g, 0, values.length);
        cpu.upload(values, 0, c, 0, values.length);
        return new Pair(g, c, values.length);
    }

    private Pair empty(int n) {
        return new Pair(gpu.allocate(n), cpu.allocate(n), n);
    }

    /** max |gpu - cpu| / max |cpu|, over the first n values. */
    private static double relativeError(Pair p, int n) {
        return relativeError(gpu, p, n);
    }

    private static double relativeError(CudaBackend on, Pair p, int n) {
        float[] g = new float[n], c = new float[n];
        on.download(p.g, 0, g, 0, n);
        cpu.download(p.c, 0, c, 0, n);
        double worst = 0, scale = 1e-30;
        for (int i = 0; i < n; i++) {
            assertTrue(Float.isFinite(g[i]), "GPU value " + i + " is " + g[i]);
            worst = Math.max(worst, Math.abs(g[i] - c[i]));
            scale = Math.max(scale, Math.abs(c[i]));
        }
        return worst / scale;
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void matmulMatchesTheCpu(GgmlType type) {
        int rows = 96, cols = 256;
        WeightTensor w = weight(type, rows, cols, 0.5f);
        DeviceMatrix gw = gpu.matrix(w), cw = cpu.matrix(w);
        for (int n : new int[] {1, 5, 40}) {
            Pair x = tensor(randoms(n * cols, 1f)), out = empty(n * rows);
            gpu.matmul(gw, x.g, n, out.g);
            cpu.matmul(cw, x.c, n, out.c);
            // The GPU rounds x to the weight's 16-bit type for cuBLAS; the CPU may quantise x for Q8/Q4.
            double tolerance = switch (type) {
                case F32 -> 1e-5;
                case F16 -> 3e-3;
                default -> 2e-2;
            };
            double err = relativeError(out, n * rows);
            assertTrue(err <= tolerance, type + " n=" + n + ": relative error " + err);
        }
    }

    /**
     * Above {@link QuantizedMatmul#DEQUANT_GEMM_ABOVE_TOKENS} tokens a Q8_0/Q4_0 weight is dequantised to f16
     * in row chunks for cuBLAS: the result matches the CPU (f32 dequantised weights) within the f16
     * matmul tolerance over a matrix of three chunks, the last one short; the workspace is one chunk,
     * allocated at the first such matmul (not by the GEMV at the threshold), and the memory plan
     * counts it before then.
     */
    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"Q8_0", "Q4_0"})
    void prefillMatmulDequantisesQuantisedWeightsInChunks(GgmlType type) {
        int rows = 150, cols = 64, chunkRows = 64;
        long chunkBytes = 2L * chunkRows * cols;
        try (CudaBackend small = new CudaBackend(TensorParallel.SINGLE, KvDtype.F16, chunkBytes)) {
            WeightTensor w = weight(type, rows, cols, 0.5f);
            DeviceMatrix gw = small.matrix(w), cw = cpu.matrix(w);
            MemoryPlan plan = small.planKvCache(1, 1, 8, 16, 1.0, 0);
            assertEquals(chunkBytes, plan.workspaceBytes(), "the plan counts the workspace before its first use: " + plan);
            int threshold = QuantizedMatmul.DEQUANT_GEMM_ABOVE_TOKENS;
            for (int n : new int[] {threshold, threshold + 1, 70}) {
                Pair x = tensor(small, randoms(n * cols, 1f));
                Pair out = new Pair(small.allocate((long) n * rows), cpu.allocate((long) n * rows), n * rows);
                small.matmul(gw, x.g(), n, out.g());
                cpu.matmul(cw, x.c(), n, out.c());
                assertEquals(n > threshold ? chunkBytes : 0, small.dequantWorkspaceBytes(), "n=" + n);
                double err = relativeError(small, out, n * rows);
                assertTrue(err <= 3e-3, type + " n=" + n + ": relative error " + err);
            }
            assertTrue(small.planKvCache(1, 1, 8, 16, 1.0, 0).workspaceBytes() >= chunkBytes);
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q8_0", "Q4_0"})
    void embeddingMatchesTheCpu(GgmlType type) {
        int vocab = 300, dim = 128;
        WeightTensor table = weight(type, vocab, dim, 1f);
        int[] tokens = {0, 299, 17, 17, 150};
        Pair out = empty(tokens.length * dim);
        gpu.embed(gpu.matrix(table), tokens, tokens.length, out.g);
        cpu.embed(cpu.matrix(table), tokens, tokens.length, out.c);
        assertEquals(0, relativeError(out, tokens.length * dim), 1e-7);
    }

    @Test
    void normsActivationsAndRowOpsMatchTheCpu() {
        int n = 7, dim = 4096;
        Pair x = tensor(randoms(n * dim, 3f)), w = tensor(randoms(dim, 1f)), out = empty(n * dim);
        gpu.rmsNorm(x.g, w.g, n, dim, 1e-5f, out.g);
        cpu.rmsNorm(x.c, w.c, n, dim, 1e-5f, out.c);
        assertTrue(relativeError(out, n * dim) < 1e-5);

        Pair gate = tensor(randoms(n * dim, 8f)), up = tensor(randoms(n * dim, 1f));
        gpu.siluMul(gate.g, up.g, (long) n * dim);
        cpu.siluMul(gate.c, up.c, (long) n * dim);
        assertTrue(relativeError(gate, n * dim) < 1e-5);

        gpu.add(x.g, up.g, (long) n * dim);
        cpu.add(x.c, up.c, (long) n * dim);
        assertEquals(0, relativeError(x, n * dim), 0);

        int[] rows = {6, 0, 3};
        Pair gathered = empty(rows.length * dim);
        gpu.gatherRows(x.g, dim, rows, rows.length, gathered.g);
        cpu.gatherRows(x.c, dim, rows, rows.length, gathered.c);
        assertEquals(0, relativeError(gathered, rows.length * dim), 0);
    }

    @Test
    void ropeMatchesTheCpu() {
        int n = 5, heads = 8, headDim = 64;
        RopeFrequencies f = RopeFrequencies.llama3(headDim, 500000f, 8f, 1f, 4f, 8192);
        int[] positions = {0, 1, 77, 4000, 20000};
        float[] table = new float[n * headDim];
        f.cosSin(positions, n, table);
        Pair cs = tensor(table);
        for (boolean neox : new boolean[] {false, true}) {
            Pair x = tensor(randoms(n * heads * headDim, 1f));
            gpu.rope(x.g, n, heads, headDim, cs.g, neox);
            cpu.rope(x.c, n, heads, headDim, cs.c, neox);
            assertTrue(relativeError(x, n * heads * headDim) < 1e-5, "neox=" + neox);
        }
    }

    /** Writes K/V for every sequence's context, then attends; both backends get the same data. */
    @Test
    void pagedAttentionMatchesTheCpu() {
        int heads = 8, kvHeads = 2, headDim = 64, blockSize = 16, blocks = 200;
        KvLayout layout = new KvLayout(2, blocks, blockSize, kvHeads, headDim);
        try (KvCache gk = gpu.allocateKvCache(layout, false); KvCache ck = cpu.allocateKvCache(layout, false)) {
            // Decode (one partition and split ones), then a prefill batch with cached prefixes.
            int[][] shapes = {{1, 1}, {40, 1}, {700, 1}, {1500, 1}};
            check(gpu, gk, ck, shapes, heads, kvHeads, headDim, blockSize, 5e-3);
            check(gpu, gk, ck, new int[][] {{100, 100}, {300, 37}, {33, 1}}, heads, kvHeads, headDim, blockSize, 5e-3);
        }
    }

    /** The same with a bf16 cache, on a second backend sharing the device (and its primary context). */
    @Test
    void pagedAttentionOverABf16CacheMatchesTheCpu() {
        int heads = 8, kvHeads = 2, headDim = 64, blockSize = 16, blocks = 200;
        KvLayout layout = new KvLayout(2, blocks, blockSize, kvHeads, headDim);
        try (CudaBackend bf16 = new CudaBackend(TensorParallel.SINGLE, KvDtype.BF16);
             KvCache gk = bf16.allocateKvCache(layout, false); KvCache ck = cpu.allocateKvCache(layout, false)) {
            assertTrue(bf16.name().contains("kv BF16"), bf16.name());
            assertEquals(2, bf16.kvElementBytes(), "swap and KV budgets are sized in bf16 elements");
            check(bf16, gk, ck, new int[][] {{1, 1}, {700, 1}}, heads, kvHeads, headDim, blockSize, 2e-2);
            check(bf16, gk, ck, new int[][] {{100, 100}, {300, 37}}, heads, kvHeads, headDim, blockSize, 2e-2);
        }
    }

    /** shapes[s] = {context length after this step, query rows of this step}. */
    private void check(CudaBackend gpu, KvCache gk, KvCache ck, int[][] shapes, int heads, int kvHeads, int headDim,
                       int blockSize, double tolerance) {
        int width = kvHeads * headDim, qWidth = heads * headDim;
        AttentionBatch batch = new AttentionBatch();
        // Distinct blocks in a random order: no two sequences share one, and tables are scattered.
        java.util.List<Integer> free = new java.util.ArrayList<>();
        for (int b = 0; b < 200; b++) free.add(b);
        java.util.Collections.shuffle(free, random);
        int nextBlock = 0, rows = 0;
        int totalContext = 0;
        for (int[] s : shapes) totalContext += s[0];
        int[] slots = new int[totalContext];
        int slot = 0;
        for (int[] s : shapes) {
            int need = (s[0] + blockSize - 1) / blockSize;
            int[] table = new int[need];
            for (int b = 0; b < need; b++) table[b] = free.get(nextBlock++);
            for (int p = 0; p < s[0]; p++) slots[slot++] = table[p / blockSize] * blockSize + p % blockSize;
            batch.add(rows, s[1], s[0] - s[1], table);
            rows += s[1];
        }
        Pair k = tensor(gpu, randoms(totalContext * width, 1f)), v = tensor(gpu, randoms(totalContext * width, 1f));
        gpu.writeKv(gk, 1, k.g, v.g, slots, totalContext);
        cpu.writeKv(ck, 1, k.c, v.c, slots, totalContext);
        Pair q = tensor(gpu, randoms(rows * qWidth, 1f));
        Pair out = new Pair(gpu.allocate(rows * qWidth), cpu.allocate(rows * qWidth), rows * qWidth);
        gpu.attention(q.g, gk, 1, batch, heads, out.g);
        cpu.attention(q.c, ck, 1, batch, heads, out.c);
        // K and V are f16 or bf16 on the GPU.
        double err = relativeError(gpu, out, rows * qWidth);
        assertTrue(err < tolerance, "relative error " + err);
    }

    @Test
    void copyOnWriteAndSwapMoveWholeBlocks() {
        int kvHeads = 2, headDim = 64, blockSize = 16, heads = 4;
        KvLayout layout = new KvLayout(2, 8, blockSize, kvHeads, headDim);
        try (KvCache dev = gpu.allocateKvCache(layout, false); KvCache host = gpu.allocateKvCache(layout, true)) {
            int width = kvHeads * headDim, n = 2 * blockSize;
            int[] slots = new int[n];
            for (int i = 0; i < n; i++) slots[i] = i; // blocks 0 and 1
            Pair k = tensor(randoms(n * width, 1f)), v = tensor(randoms(n * width, 1f));
            gpu.writeKv(dev, 0, k.g, v.g, slots, n);
            Pair q = tensor(randoms(heads * headDim, 1f));
            DeviceTensor a = gpu.allocate(heads * headDim), b = gpu.allocate(heads * headDim);

            AttentionBatch original = new AttentionBatch();
            original.add(0, 1, n - 1, new int[] {0, 1});
            gpu.attention(q.g, dev, 0, original, heads, a);

            gpu.copyBlocks(dev, new int[] {0, 1}, new int[] {5, 3}, 2);          // copy-on-write
            gpu.copyBlocks(dev, new int[] {5, 3}, host, new int[] {2, 6}, 2);    // swap out
            gpu.copyBlocks(host, new int[] {2, 6}, dev, new int[] {7, 4}, 2);    // swap in
            AttentionBatch moved = new AttentionBatch();
            moved.add(0, 1, n - 1, new int[] {7, 4});
            gpu.attention(q.g, dev, 0, moved, heads, b);

            float[] x = new float[heads * headDim], y = new float[heads * headDim];
            gpu.download(a, 0, x, 0, x.length);
            gpu.download(b, 0, y, 0, y.length);
            for (int i = 0; i < x.length; i++) assertEquals(x[i], y[i], 0f);
        }
    }

    /** A kernel name the fatbin lacks is the driver's CUDA_ERROR_NOT_FOUND, named in the exception. */
    @Test
    void unknownKernelIsReportedByName() {
        try (CudaModule m = new CudaModule(CudaRuntime.fatbin())) {
            CudaException e = org.junit.jupiter.api.Assertions.assertThrows(CudaException.class,
                    () -> m.function("kvasir_no_such_kernel"));
            assertTrue(e.getMessage().contains("kvasir_no_such_kernel") && e.getMessage().contains("CUDA_ERROR_NOT_FOUND"),
                    e.getMessage());
            m.function("kvasir_add_f32"); // and a real one is found
        }
    }

    @Test
    void backendNamesItsDevice() {
        Backend b = gpu;
        assertTrue(b.name().startsWith("cuda "), b.name());
        assertEquals(2, b.kvElementBytes(), "the default KV cache is f16");
        assertEquals(Float.BYTES, cpu.kvElementBytes(), "the CPU keeps f32 KV");
        // Which device this ran on, in the report: the simulator says so in its name.
        System.out.println("CudaBackendTest ran on " + b.name());
        assertEquals(CudaTestSupport.simulated(), b.name().contains(CudaTestSupport.SIMULATOR_NAME), b.name());
    }
}
