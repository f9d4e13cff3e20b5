package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.AttentionBatch;
import dev.kvasir.kernels.Backend;
import dev.kvasir.kernels.DeviceMatrix;
import dev.kvasir.kernels.DeviceTensor;
import dev.kvasir.kernels.GgmlType;
import dev.kvasir.kernels.KvCache;
import dev.kvasir.kernels.KvLayout;
import dev.kvasir.kernels.WeightTensor;
import dev.kvasir.kernels.quant.Quant;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;

import static dev.kvasir.kernels.cpu.WeightLoads.F;
import static dev.kvasir.kernels.cpu.WeightLoads.L;

/**
 * The CPU backend: heap float tensors, weights read in place from the mapped file, K/V off-heap,
 * kernels on {@code jdk.incubator.vector}, work split over a fixed {@link WorkerPool}. The jobs are
 * reusable objects and scratch is per worker, so a step allocates nothing once warmed up.
 * Called from one thread at a time.
 */
public final class CpuBackend implements Backend {

    /** Below this many floats an elementwise op runs on the calling thread: dispatch would cost more. */
    private static final int PARALLEL_ELEMENTWISE = 1 << 15;
    private static final int ELEMENTWISE_CHUNK = 1 << 13;

    private final WorkerPool pool;
    private final float[][] scratch;
    private final MatmulJob matmulJob = new MatmulJob();
    private final AttentionJob attentionJob = new AttentionJob();
    private final RmsNormJob rmsNormJob = new RmsNormJob();
    private final ElementwiseJob elementwiseJob = new ElementwiseJob();

    private final KvStorage kvStorage;
    /** Weight types whose matmuls take int8 activations ({@link Int8Dots}); the step's activations, quantized once. */
    private final Set<GgmlType> int8Types;
    private final Int8Activations int8 = new Int8Activations();

    /** A backend with one worker per available core, K and V in f32. */
    public CpuBackend() {
        this(Runtime.getRuntime().availableProcessors());
    }

    public CpuBackend(int threads) {
        this(threads, KvStorage.F32);
    }

    /**
     * {@code kvStorage}: how its KV caches store K and V (f32 exact; f16 and bf16 half the bytes).
     * Q8_0 matmuls take int8 activations unless {@code -Dkvasir.cpu.int8Dots=false} (or a list of
     * types: {@code q8_0,q4_0}).
     */
    public CpuBackend(int threads, KvStorage kvStorage) {
        this(threads, kvStorage, Int8Dots.typesByDefault());
    }

    /**
     * {@code int8Dots}: Q8_0 and Q4_0 weights multiply activations quantized to int8 per 32 values,
     * as llama.cpp does (faster decode; logits within its rounding), rather than floats.
     */
    public CpuBackend(int threads, KvStorage kvStorage, boolean int8Dots) {
        this(threads, kvStorage, int8Dots ? Int8Dots.TYPES : Set.of());
    }

    private CpuBackend(int threads, KvStorage kvStorage, Set<GgmlType> int8Types) {
        pool = new WorkerPool(threads);
        scratch = new float[threads][0];
        this.kvStorage = java.util.Objects.requireNonNull(kvStorage, "kvStorage");
        this.int8Types = int8Types.isEmpty() ? EnumSet.noneOf(GgmlType.class) : EnumSet.copyOf(int8Types);
    }

    public int threads() {
        return pool.threads();
    }

    @Override
    public String name() {
        return "cpu (" + threads() + " threads, " + L + " float lanes, KV " + kvStorage.name().toLowerCase(java.util.Locale.ROOT)
                + (int8Types.isEmpty() ? "" : ", int8 dots " + int8Types) + ")";
    }

    private float[] scratch(int worker, int floats) {
        float[] s = scratch[worker];
        if (s.length < floats) {
            s = new float[floats];
            scratch[worker] = s;
        }
        return s;
    }

    // ---- memory ----

    @Override
    public DeviceTensor allocate(long floats) {
        return new CpuTensor(Math.toIntExact(floats));
    }

    @Override
    public void upload(float[] src, int srcOff, DeviceTensor dst, long dstOff, int count) {
        System.arraycopy(src, srcOff, CpuTensor.of(dst), Math.toIntExact(dstOff), count);
    }

    @Override
    public void download(DeviceTensor src, long srcOff, float[] dst, int dstOff, int count) {
        System.arraycopy(CpuTensor.of(src), Math.toIntExact(srcOff), dst, dstOff, count);
    }

    @Override
    public DeviceMatrix matrix(WeightTensor weight) {
        return new CpuMatrix(weight);
    }

    /** A strided view: no copy, the mapped pages stay shared by every rank that reads them. */
    @Override
    public DeviceMatrix matrix(WeightTensor weight, int fromCol, int toCol) {
        return new CpuMatrix(weight, fromCol, toCol);
    }

    @Override
    public DeviceTensor vector(WeightTensor weight) {
        float[] values = Quant.dequantize(weight);
        CpuTensor t = new CpuTensor(values.length);
        System.arraycopy(values, 0, t.data, 0, values.length);
        return t;
    }

    @Override
    public void free(DeviceTensor tensor) {
        // Heap tensors go with the garbage collector.
    }

    @Override
    public KvCache allocateKvCache(KvLayout layout, boolean host) {
        return new CpuKvCache(layout, kvStorage);
    }

    @Override
    public int kvElementBytes() {
        return kvStorage.bytes;
    }

    // ---- dense ops ----

    @Override
    public void embed(DeviceMatrix table, int[] tokens, int n, DeviceTensor out) {
        CpuMatrix m = CpuMatrix.of(table);
        float[] o = CpuTensor.of(out);
        for (int t = 0; t < n; t++) {
            if (tokens[t] < 0 || tokens[t] >= m.rows) {
                throw new IllegalArgumentException("token id " + tokens[t] + " is outside the vocabulary of " + m.rows);
            }
            WeightLoads.dequantizeRow(m, tokens[t], o, t * m.cols);
        }
    }

    @Override
    public void matmul(DeviceMatrix w, DeviceTensor x, int n, DeviceTensor out) {
        MatmulJob job = matmulJob;
        job.count = 1;
        job.set(0, CpuMatrix.of(w), CpuTensor.of(out));
        run(job, CpuTensor.of(x), n);
    }

    @Override
    public void matmuls(DeviceMatrix[] w, DeviceTensor x, int n, DeviceTensor[] out) {
        if (w.length != out.length || w.length > MatmulJob.MAX) {
            throw new IllegalArgumentException(w.length + " matrices for " + out.length + " outputs (at most " + MatmulJob.MAX + ")");
        }
        MatmulJob job = matmulJob;
        job.count = w.length;
        for (int i = 0; i < w.length; i++) job.set(i, CpuMatrix.of(w[i]), CpuTensor.of(out[i]));
        run(job, CpuTensor.of(x), n);
    }

    private void run(MatmulJob job, float[] x, int n) {
        job.x = x;
        job.n = n;
        int chunks = 0;
        boolean quantize = false;
        for (int i = 0; i < job.count; i++) {
            quantize |= int8Types.contains(job.m[i].type);
            // Enough chunks per thread to even out a noisy machine, each whole row blocks.
            int rows = job.m[i].rows;
            int perChunk = Math.max(Matmul.ROW_BLOCK, rows / (threads() * 16));
            perChunk = (perChunk + Matmul.ROW_BLOCK - 1) / Matmul.ROW_BLOCK * Matmul.ROW_BLOCK;
            job.rowsPerChunk[i] = perChunk;
            job.firstChunk[i] = chunks;
            chunks += (rows + perChunk - 1) / perChunk;
        }
        // The matrices of a job read the same x: quantized once, here, for all of them.
        if (quantize) int8.quantize(x, n, job.m[0].cols, n > Matmul.FEW_TOKENS);
        pool.run(job, chunks);
        job.x = null;
        for (int i = 0; i < job.count; i++) job.set(i, null, null);
    }

    /** Row chunks of up to {@link #MAX} matrices that read the same input. */
    private final class MatmulJob implements WorkerPool.Job {
        static final int MAX = 4;
        final CpuMatrix[] m = new CpuMatrix[MAX];
        final float[][] out = new float[MAX][];
        final int[] rowsPerChunk = new int[MAX];
        final int[] firstChunk = new int[MAX];
        int count, n;
        float[] x;

        void set(int i, CpuMatrix matrix, float[] output) {
            m[i] = matrix;
            out[i] = output;
        }

        @Override
        public void run(int chunk, int worker) {
            int i = count - 1;
            while (firstChunk[i] > chunk) i--;
            CpuMatrix mi = m[i];
            int r0 = (chunk - firstChunk[i]) * rowsPerChunk[i];
            int r1 = Math.min(mi.rows, r0 + rowsPerChunk[i]);
            if (int8Types.contains(mi.type)) {
                if (n == 1) Int8Dots.oneToken(mi, int8, out[i], r0, r1);
                else if (n <= Matmul.FEW_TOKENS) Int8Dots.fewTokens(mi, int8, n, out[i], r0, r1);
                else Int8Tiles.manyTokens(mi, int8, n, out[i], r0, r1, scratch(worker, Int8Tiles.scratchFloats(mi.cols)));
                return;
            }
            float[] s = scratch(worker, Matmul.ROW_BLOCK * mi.cols);
            if (n == 1) Matmul.oneToken(mi, x, 0, out[i], 0, r0, r1, s);
            else if (n <= Matmul.FEW_TOKENS && Matmul.fewTokensFit(mi)) Matmul.fewTokens(mi, x, n, out[i], r0, r1);
            else Matmul.manyTokens(mi, x, n, out[i], r0, r1, s);
        }
    }

    @Override
    public void rmsNorm(DeviceTensor x, DeviceTensor weight, int n, int dim, float eps, DeviceTensor out) {
        RmsNormJob job = rmsNormJob;
        job.x = CpuTensor.of(x);
        job.w = CpuTensor.of(weight);
        job.out = CpuTensor.of(out);
        job.dim = dim;
        job.eps = eps;
        pool.run(job, n);
    }

    private static final class RmsNormJob implements WorkerPool.Job {
        float[] x, w, out;
        int dim;
        float eps;

        @Override
        public void run(int row, int worker) {
            int off = row * dim;
            int bound = dim - dim % L;
            FloatVector acc = FloatVector.zero(F);
            for (int i = 0; i < bound; i += L) {
                FloatVector v = FloatVector.fromArray(F, x, off + i);
                acc = v.fma(v, acc);
            }
            float ss = acc.reduceLanes(VectorOperators.ADD);
            for (int i = bound; i < dim; i++) ss += x[off + i] * x[off + i];
            float inv = (float) (1.0 / Math.sqrt(ss / dim + eps));
            for (int i = 0; i < bound; i += L) {
                FloatVector.fromArray(F, w, i).mul(FloatVector.fromArray(F, x, off + i).mul(inv)).intoArray(out, off + i);
            }
            for (int i = bound; i < dim; i++) out[off + i] = w[i] * (inv * x[off + i]);
        }
    }

    @Override
    public void rope(DeviceTensor x, int n, int heads, int headDim, DeviceTensor cosSin, boolean neox) {
        float[] v = CpuTensor.of(x);
        float[] cs = CpuTensor.of(cosSin);
        int half = headDim / 2;
        for (int t = 0; t < n; t++) {
            int c = t * headDim;
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * headDim;
                for (int i = 0; i < half; i++) {
                    float cos = cs[c + i], sin = cs[c + half + i];
                    int a = neox ? base + i : base + 2 * i;
                    int b = neox ? a + half : a + 1;
                    float x0 = v[a], x1 = v[b];
                    v[a] = x0 * cos - x1 * sin;
                    v[b] = x0 * sin + x1 * cos;
                }
            }
        }
    }

    @Override
    public void siluMul(DeviceTensor gate, DeviceTensor up, long count) {
        elementwise(ElementwiseJob.SILU_MUL, CpuTensor.of(gate), CpuTensor.of(up), Math.toIntExact(count));
    }

    @Override
    public void add(DeviceTensor acc, DeviceTensor x, long count) {
        elementwise(ElementwiseJob.ADD, CpuTensor.of(acc), CpuTensor.of(x), Math.toIntExact(count));
    }

    private void elementwise(int op, float[] a, float[] b, int count) {
        ElementwiseJob job = elementwiseJob;
        job.op = op;
        job.a = a;
        job.b = b;
        job.count = count;
        if (count < PARALLEL_ELEMENTWISE) job.run(0, 0);
        else pool.run(job, (count + ELEMENTWISE_CHUNK - 1) / ELEMENTWISE_CHUNK);
        job.a = job.b = null;
    }

    private static final class ElementwiseJob implements WorkerPool.Job {
        static final int SILU_MUL = 0, ADD = 1;
        int op, count;
        float[] a, b;

        @Override
        public void run(int chunk, int worker) {
            int from = count < PARALLEL_ELEMENTWISE ? 0 : chunk * ELEMENTWISE_CHUNK;
            int to = count < PARALLEL_ELEMENTWISE ? count : Math.min(count, from + ELEMENTWISE_CHUNK);
            int bound = from + (to - from) - (to - from) % L;
            int i = from;
            if (op == SILU_MUL) {
                for (; i < bound; i += L) {
                    FloatVector g = FloatVector.fromArray(F, a, i);
                    FloatVector silu = g.div(VectorExp.exp(g.neg()).add(1f)); // VectorExp: the same bits cold or compiled, lanes or tail
                    silu.mul(FloatVector.fromArray(F, b, i)).intoArray(a, i);
                }
                for (; i < to; i++) a[i] = a[i] / (VectorExp.exp(-a[i]) + 1f) * b[i];
            } else {
                for (; i < bound; i += L) {
                    FloatVector.fromArray(F, a, i).add(FloatVector.fromArray(F, b, i)).intoArray(a, i);
                }
                for (; i < to; i++) a[i] += b[i];
            }
        }
    }

    @Override
    public void gatherRows(DeviceTensor src, int width, int[] rows, int count, DeviceTensor dst) {
        float[] s = CpuTensor.of(src), d = CpuTensor.of(dst);
        for (int i = 0; i < count; i++) System.arraycopy(s, rows[i] * width, d, i * width, width);
    }

    // ---- paged KV ----

    @Override
    public void writeKv(KvCache cache, int layer, DeviceTensor k, DeviceTensor v, int[] slots, int n) {
        CpuKvCache c = CpuKvCache.of(cache);
        float[] ks = CpuTensor.of(k), vs = CpuTensor.of(v);
        int width = c.layout().slotFloats();
        long capacity = (long) c.layout().numBlocks() * c.layout().blockSize();
        for (int t = 0; t < n; t++) {
            if (slots[t] < 0 || slots[t] >= capacity) {
                throw new IllegalArgumentException("KV slot " + slots[t] + " is outside the cache of " + capacity + " slots");
            }
            long at = c.slotOffset(slots[t]);
            // K goes dimension-major inside its block (see CpuKvCache): element i of the slot at row i
            long keyAt = c.keyOffset(slots[t]), keyStride = (long) c.layout().blockSize() * c.storage.bytes;
            switch (c.storage) {
                case F32 -> {
                    for (int i = 0; i < width; i++) c.k[layer].set(CpuKvCache.FLOAT, keyAt + i * keyStride, ks[t * width + i]);
                    MemorySegment.copy(vs, t * width, c.v[layer], CpuKvCache.FLOAT, at, width);
                }
                case F16 -> {
                    for (int i = 0; i < width; i++) {
                        c.k[layer].set(CpuKvCache.HALF, keyAt + i * keyStride, Float.floatToFloat16(ks[t * width + i]));
                        c.v[layer].set(CpuKvCache.HALF, at + 2L * i, Float.floatToFloat16(vs[t * width + i]));
                    }
                }
                case BF16 -> {
                    for (int i = 0; i < width; i++) {
                        c.k[layer].set(CpuKvCache.HALF, keyAt + i * keyStride, Quant.f32ToBf16(ks[t * width + i]));
                        c.v[layer].set(CpuKvCache.HALF, at + 2L * i, Quant.f32ToBf16(vs[t * width + i]));
                    }
                }
            }
        }
    }

    @Override
    public void attention(DeviceTensor q, KvCache cache, int layer, AttentionBatch batch, int numHeads, DeviceTensor out) {
        AttentionJob job = attentionJob;
        job.cache = CpuKvCache.of(cache);
        job.layer = layer;
        job.batch = batch;
        job.q = CpuTensor.of(q);
        job.out = CpuTensor.of(out);
        job.numHeads = numHeads;
        job.index(batch);
        pool.run(job, job.rows * job.cache.layout().numKvHeads());
        job.q = job.out = null;
        job.batch = null;
    }

    /** One chunk per (query row, KV head); {@link #index} maps chunk rows back to their sequence. */
    private final class AttentionJob implements WorkerPool.Job {
        CpuKvCache cache;
        AttentionBatch batch;
        float[] q, out;
        int layer, numHeads, rows;
        int[] rowSeq = new int[64];
        int[] rowIndex = new int[64];

        void index(AttentionBatch b) {
            rows = b.totalQueries();
            if (rowSeq.length < rows) {
                rowSeq = new int[Math.max(rows, rowSeq.length * 2)];
                rowIndex = new int[rowSeq.length];
            }
            int k = 0;
            for (int s = 0; s < b.sequences(); s++) {
                for (int i = 0; i < b.queryCount(s); i++, k++) {
                    rowSeq[k] = s;
                    rowIndex[k] = i;
                }
            }
        }

        @Override
        public void run(int chunk, int worker) {
            KvLayout lay = cache.layout();
            int kvHeads = lay.numKvHeads();
            int k = chunk / kvHeads, kvHead = chunk % kvHeads;
            int s = rowSeq[k], i = rowIndex[k];
            int headDim = lay.headDim();
            int group = numHeads / kvHeads;
            int row = batch.queryStart(s) + i;
            int context = batch.startPos(s) + i + 1;
            int[] table = batch.blockTable(s);
            if ((context + lay.blockSize() - 1) / lay.blockSize() > table.length) {
                throw new IllegalArgumentException("block table of " + table.length + " blocks cannot hold " + context + " positions");
            }
            int qOff = (row * numHeads + kvHead * group) * headDim;
            int bytes = cache.storage.bytes;
            long blockBytes = cache.blockBytes(), kOff = (long) kvHead * headDim * lay.blockSize() * bytes;
            long slotBytes = (long) lay.slotFloats() * bytes, vOff = (long) kvHead * headDim * bytes;
            if (cache.storage == KvStorage.F32) {
                PagedAttention.attendGroup(q, qOff, group, cache.k[layer], cache.v[layer], table, lay.blockSize(), blockBytes, kOff,
                        slotBytes, vOff, headDim, context, scratch(worker, group * (context + 1)), out, qOff);
            } else {
                PagedAttention.attendGroup16(q, qOff, group, cache.k[layer], cache.v[layer], cache.storage == KvStorage.BF16,
                        table, lay.blockSize(), blockBytes, kOff, slotBytes, vOff, headDim, context,
                        scratch(worker, group * context + headDim), out, qOff);
            }
        }
    }

    @Override
    public void copyBlocks(KvCache cache, int[] src, int[] dst, int count) {
        copyBlocks(cache, src, cache, dst, count);
    }

    @Override
    public void copyBlocks(KvCache from, int[] fromBlocks, KvCache to, int[] toBlocks, int count) {
        CpuKvCache a = CpuKvCache.of(from), b = CpuKvCache.of(to);
        if (!sameShape(a.layout(), b.layout()) || a.storage != b.storage) {
            throw new IllegalArgumentException("KV caches differ in shape: " + a.layout() + " " + a.storage + " vs "
                    + b.layout() + " " + b.storage);
        }
        for (int i = 0; i < count; i++) {
            requireBlock(a, fromBlocks[i]);
            requireBlock(b, toBlocks[i]);
        }
        long bytes = a.blockBytes();
        for (int l = 0; l < a.layout().numLayers(); l++) {
            for (int i = 0; i < count; i++) {
                MemorySegment.copy(a.k[l], fromBlocks[i] * bytes, b.k[l], toBlocks[i] * bytes, bytes);
                MemorySegment.copy(a.v[l], fromBlocks[i] * bytes, b.v[l], toBlocks[i] * bytes, bytes);
            }
        }
    }

    private static void requireBlock(CpuKvCache c, int block) {
        if (block < 0 || block >= c.layout().numBlocks()) {
            throw new IllegalArgumentException("KV block " + block + " is outside the cache of " + c.layout().numBlocks() + " blocks");
        }
    }

    private static boolean sameShape(KvLayout a, KvLayout b) {
        return a.numLayers() == b.numLayers() && a.blockSize() == b.blockSize()
                && a.numKvHeads() == b.numKvHeads() && a.headDim() == b.headDim();
    }

    @Override
    public void close() {
        pool.close();
        Arrays.fill(scratch, new float[0]);
    }
}
