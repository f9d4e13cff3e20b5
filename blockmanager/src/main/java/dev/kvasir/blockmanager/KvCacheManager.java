package dev.kvasir.blockmanager;

import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * Paged KV-cache bookkeeping for the engine: per-sequence block tables over a GPU {@link BlockPool},
 * automatic prefix caching, fork with copy-on-write, and swap plans to a CPU pool.
 *
 * <p>Two refinements of the prefix cache: freed cached blocks carry a {@link BlockPool.Retention}
 * class from the engine (session prefixes and pins outlive plain LRU blocks), and an optional host
 * <em>offload tier</em>: a cached device block evicted for reuse is first copied to a host block that
 * keeps its hash (under the same prefix id), and a later prompt that misses on the device but hits
 * there gets a fresh device block filled by a copy instead of recomputing it
 * ({@link #drainOffloads}). A sequence never reads a host block directly.
 *
 * <p>Mechanism only: every method either does what it says or reports that it cannot (a {@code -1},
 * {@code null} or {@code false}) having changed nothing; the scheduler decides what to preempt.
 * Misuse (unknown sequence, duplicate id, negative counts) throws and also changes nothing.
 *
 * <p>Not thread-safe: the engine thread owns it. The decode path ({@link #appendToken},
 * {@link #slotMapping(long, int, int, int[], int)}, {@link #markComputed}) and allocate/free allocate
 * nothing once warm; the array-returning variants allocate only their result.
 */
public final class KvCacheManager {

    /**
     * The admission watermark the server runs with: a new prompt must leave this fraction of the
     * pool free, so running sequences can still grow without being preempted at once (vLLM's 1%).
     */
    public static final double DEFAULT_WATERMARK = 0.01;

    private static final BlockCopies NO_COPIES = new BlockCopies(new int[0], new int[0]);
    private static final int[] NO_BLOCKS = new int[0];
    private static final OffloadCopies NO_OFFLOADS = new OffloadCopies(NO_BLOCKS, NO_BLOCKS, NO_BLOCKS, NO_BLOCKS);

    private final BlockPool gpu;
    private final BlockPool cpu;
    /** The host offload tier: cached blocks only, prefix ids shared with {@link #gpu}; empty when off. */
    private final BlockPool offload;
    private final int blockSize;
    private final int blockShift;
    private final int offsetMask;
    private final int watermarkBlocks;
    private final boolean prefixCaching;
    /** All ones in production; tests keep a few bits to force hash collisions. */
    private final long hashMask;

    private final SequenceMap seqs = new SequenceMap();
    private final ArrayDeque<SequenceBlocks> spare = new ArrayDeque<>();
    private final IntList copySrc = new IntList();
    private final IntList copyDst = new IntList();
    private final IntList storeSrc = new IntList();
    private final IntList storeDst = new IntList();
    private final IntList loadSrc = new IntList();
    private final IntList loadDst = new IntList();
    /** Scratch for one block's token ids (offload stores). */
    private final int[] blockTokens;

    private long prefixQueryTokens;
    private long prefixHitTokens;
    private long offloadHitTokens;
    private long offloadStores;
    private long cowCopies;

    // Result of the last findPrefix (single engine thread, so plain fields instead of a result object).
    private int[] hitIds = new int[64];
    /** Whether hit i is a host-tier block (to be loaded) rather than a device block. */
    private boolean[] hitOnHost = new boolean[64];
    private int hitBlocks;
    private int hitHostBlocks;
    private int hitBlocksFree;
    private long hitPrefixId;
    private long hitHashHi;
    private long hitHashLo;

    public KvCacheManager(int numGpuBlocks, int blockSize, int numCpuBlocks, double watermarkFraction,
                          boolean enablePrefixCaching) {
        this(numGpuBlocks, blockSize, numCpuBlocks, 0, watermarkFraction, enablePrefixCaching, -1L);
    }

    /** @param numOffloadBlocks blocks of the host offload tier (0: off; it needs prefix caching) */
    public KvCacheManager(int numGpuBlocks, int blockSize, int numCpuBlocks, int numOffloadBlocks, double watermarkFraction,
                          boolean enablePrefixCaching) {
        this(numGpuBlocks, blockSize, numCpuBlocks, numOffloadBlocks, watermarkFraction, enablePrefixCaching, -1L);
    }

    /** With a weakened hash ({@code hashMask} keeps only some bits), to prove collisions never serve wrong KV. */
    KvCacheManager(int numGpuBlocks, int blockSize, int numCpuBlocks, int numOffloadBlocks, double watermarkFraction,
                   boolean enablePrefixCaching, long hashMask) {
        if (numGpuBlocks <= 0) {
            throw new IllegalArgumentException("numGpuBlocks must be > 0, got " + numGpuBlocks);
        }
        if (numCpuBlocks < 0) {
            throw new IllegalArgumentException("numCpuBlocks must be >= 0, got " + numCpuBlocks);
        }
        if (numOffloadBlocks < 0 || (numOffloadBlocks > 0 && !enablePrefixCaching)) {
            throw new IllegalArgumentException("numOffloadBlocks must be >= 0 and needs prefix caching, got "
                    + numOffloadBlocks + (enablePrefixCaching ? "" : " without prefix caching"));
        }
        if (!(watermarkFraction >= 0 && watermarkFraction < 1)) {
            throw new IllegalArgumentException("watermarkFraction must be in [0, 1), got " + watermarkFraction);
        }
        this.gpu = new BlockPool(numGpuBlocks, blockSize);
        this.cpu = new BlockPool(numCpuBlocks, blockSize);
        this.offload = new BlockPool(numOffloadBlocks, blockSize);
        this.blockTokens = new int[blockSize];
        this.blockSize = blockSize;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
        this.offsetMask = blockSize - 1;
        this.watermarkBlocks = (int) (watermarkFraction * numGpuBlocks);
        this.prefixCaching = enablePrefixCaching;
        this.hashMask = hashMask;
    }

    /**
     * The fewest blocks a pool needs so that one sequence of {@code maxTokens} tokens is admitted
     * above a watermark of {@code watermarkFraction} (what {@link #canAllocatePrompt} asks).
     */
    public static int minBlocksFor(int maxTokens, int blockSize, double watermarkFraction) {
        int need = (maxTokens + blockSize - 1) / blockSize;
        int blocks = need;
        while (blocks - (int) (watermarkFraction * blocks) < need) blocks++;
        return blocks;
    }

    public int blockSize() { return blockSize; }

    public int watermarkBlocks() { return watermarkBlocks; }

    public boolean prefixCachingEnabled() { return prefixCaching; }

    // ---------------------------------------------------------------- prefill

    /** Whether the prompt's blocks fit while leaving the watermark reserve free (admission control). */
    public boolean canAllocatePrompt(int[] promptTokens, long extraKey) {
        checkPrompt(promptTokens);
        findPrefix(promptTokens, extraKey);
        int needNew = blocksFor(promptTokens.length) - (hitBlocks - hitHostBlocks);
        return gpu.numFree() - hitBlocksFree - needNew >= watermarkBlocks;
    }

    /**
     * Builds the sequence's table for the whole prompt, reusing the longest cached run of full blocks
     * (never the last prompt token: its logits must be computed). Returns the number of cached (already
     * computed) tokens, a multiple of blockSize and &lt; promptTokens.length, or -1 when the blocks do not
     * fit; on -1 nothing changed. Ignores the watermark: {@link #canAllocatePrompt} is the admission check.
     */
    public int allocatePrompt(long seqId, int[] promptTokens, long extraKey) {
        checkPrompt(promptTokens);
        if (seqs.get(seqId) != null) {
            throw new IllegalStateException("sequence " + seqId + " already exists");
        }
        findPrefix(promptTokens, extraKey);
        int needNew = blocksFor(promptTokens.length) - (hitBlocks - hitHostBlocks);
        if (gpu.numFree() - hitBlocksFree < needNew) {
            return -1;
        }
        SequenceBlocks seq = obtain(seqId, extraKey);
        seq.ensureTokenCapacity(promptTokens.length);
        System.arraycopy(promptTokens, 0, seq.tokens, 0, promptTokens.length);
        seq.numTokens = promptTokens.length;
        // Hits first: retaining takes them out of the free lists, so the allocations below cannot evict them
        // (host hits stay retained until their loads are drained).
        for (int i = 0; i < hitBlocks; i++) {
            if (hitOnHost[i]) offload.retain(hitIds[i]);
            else gpu.retainHit(hitIds[i]);
        }
        long parent = 0;
        for (int i = 0; i < hitBlocks; i++) {
            int b = hitIds[i];
            if (hitOnHost[i]) {
                // A fresh device block takes the host block's place in the prefix chain; the load fills it.
                int g = allocateGpu();
                gpu.register(g, offload.hashHi(b), offload.hashLo(b), extraKey, parent, promptTokens, i << blockShift,
                        offload.prefixId(b));
                loadSrc.add(b);
                loadDst.add(g);
                b = g;
            }
            parent = gpu.prefixId(b);
            seq.table.add(b);
        }
        for (int i = hitHostBlocks; i < needNew; i++) { // host hits took the first of needNew
            seq.table.add(allocateGpu());
        }
        int cached = hitBlocks << blockShift;
        seq.numComputed = cached;
        seq.numRegistered = hitBlocks;
        seq.lastPrefixId = hitPrefixId;
        seq.lastHashHi = hitHashHi;
        seq.lastHashLo = hitHashLo;
        seqs.put(seqId, seq);
        if (prefixCaching) {
            prefixQueryTokens += promptTokens.length;
            prefixHitTokens += cached;
            offloadHitTokens += (long) hitHostBlocks << blockShift;
        }
        return cached;
    }

    /**
     * A device block for a new owner. When it still holds a cached prefix and the offload tier is on,
     * the prefix moves to a host block first (a store the backend performs before anything writes
     * the device block), unless the host already holds it.
     */
    private int allocateGpu() {
        int b = gpu.nextToAllocate();
        if (b >= 0 && offload.numBlocks() > 0 && gpu.isCached(b)) store(b);
        return gpu.allocate();
    }

    private void store(int b) {
        long hi = gpu.hashHi(b), lo = gpu.hashLo(b), extra = gpu.extraKey(b), parent = gpu.parentPrefixId(b);
        gpu.copyCachedTokens(b, blockTokens, 0);
        int twin = offload.lookup(hi, lo, extra, parent, blockTokens, 0);
        if (twin >= 0) {
            // Already on the host (an equal block was offloaded before): refresh its place in the LRU order.
            offload.retain(twin);
            offload.release(twin);
            return;
        }
        int h = offload.allocate();
        if (h < 0) return; // every host block is waiting for a load this step: the prefix is dropped
        offload.register(h, hi, lo, extra, parent, blockTokens, 0, gpu.prefixId(b));
        offload.release(h);
        storeSrc.add(b);
        storeDst.add(h);
        offloadStores++;
    }

    /**
     * Offload-tier copies made since the last drain, for the backend to perform before the step's
     * forward pass (stores first, loads after any swaps); the host blocks being loaded become
     * evictable again.
     */
    public OffloadCopies drainOffloads() {
        if (storeSrc.size() == 0 && loadSrc.size() == 0) {
            return NO_OFFLOADS;
        }
        OffloadCopies copies = new OffloadCopies(storeSrc.toArray(), storeDst.toArray(), loadSrc.toArray(), loadDst.toArray());
        for (int i = 0; i < loadSrc.size(); i++) offload.release(loadSrc.get(i));
        storeSrc.clear();
        storeDst.clear();
        loadSrc.clear();
        loadDst.clear();
        return copies;
    }

    /** Walks the prompt's full blocks (all but the one holding the last token) through the cache. */
    private void findPrefix(int[] tokens, long extra) {
        hitBlocks = 0;
        hitHostBlocks = 0;
        hitBlocksFree = 0;
        hitPrefixId = 0;
        hitHashHi = PrefixHash.ROOT_HI;
        hitHashLo = PrefixHash.ROOT_LO;
        if (!prefixCaching) {
            return;
        }
        int maxBlocks = (tokens.length - 1) >> blockShift;
        if (hitIds.length < maxBlocks) {
            hitIds = new int[Math.max(maxBlocks, hitIds.length * 2)];
            hitOnHost = new boolean[hitIds.length];
        }
        long pHi = PrefixHash.ROOT_HI;
        long pLo = PrefixHash.ROOT_LO;
        long pid = 0;
        for (int i = 0; i < maxBlocks; i++) {
            int off = i << blockShift;
            long hi = hashHi(pHi, pLo, tokens, off, blockSize, extra);
            long lo = hashLo(pHi, pLo, tokens, off, blockSize, extra);
            int b = gpu.lookup(hi, lo, extra, pid, tokens, off);
            boolean host = false;
            if (b < 0 && offload.numBlocks() > 0) {
                b = offload.lookup(hi, lo, extra, pid, tokens, off);
                host = true;
            }
            if (b < 0) {
                break;
            }
            hitOnHost[hitBlocks] = host;
            hitIds[hitBlocks++] = b;
            if (host) {
                hitHostBlocks++;
                pid = offload.prefixId(b);
            } else {
                if (gpu.refCount(b) == 0) hitBlocksFree++;
                pid = gpu.prefixId(b);
            }
            pHi = hi;
            pLo = lo;
        }
        hitPrefixId = pid;
        hitHashHi = pHi;
        hitHashLo = pLo;
    }

    // ---------------------------------------------------------------- slots and decode

    /** Slots (block * blockSize + offset) for the sequence's token positions [from, to). */
    public int[] slotMapping(long seqId, int from, int to) {
        SequenceBlocks seq = onGpu(seqId);
        checkRange(seq, from, to);
        int[] out = new int[to - from];
        fillSlots(seq, from, to, out, 0);
        return out;
    }

    /** {@link #slotMapping(long, int, int)} into a caller's buffer at {@code offset}; allocation-free. */
    public void slotMapping(long seqId, int from, int to, int[] out, int offset) {
        SequenceBlocks seq = onGpu(seqId);
        checkRange(seq, from, to);
        if (offset < 0 || offset + (to - from) > out.length) {
            throw new IllegalArgumentException("output buffer of " + out.length + " cannot take "
                    + (to - from) + " slots at offset " + offset);
        }
        fillSlots(seq, from, to, out, offset);
    }

    private void fillSlots(SequenceBlocks seq, int from, int to, int[] out, int offset) {
        for (int pos = from; pos < to; pos++) {
            out[offset++] = slot(seq, pos);
        }
    }

    private int slot(SequenceBlocks seq, int pos) {
        return (seq.table.get(pos >> blockShift) << blockShift) | (pos & offsetMask);
    }

    /**
     * Tells the manager KV is now computed for the first n tokens: full blocks among them enter the
     * prefix cache. Monotonic: a smaller n than before changes nothing.
     */
    public void markComputed(long seqId, int numComputedTokens) {
        SequenceBlocks seq = onGpu(seqId);
        if (numComputedTokens < 0 || numComputedTokens > seq.numTokens) {
            throw new IllegalArgumentException("sequence " + seqId + ": computed token count " + numComputedTokens
                    + " outside [0, " + seq.numTokens + "]");
        }
        if (numComputedTokens > seq.numComputed) {
            seq.numComputed = numComputedTokens;
        }
        if (prefixCaching) {
            registerComputedBlocks(seq);
        }
    }

    /** Enters the sequence's computed full blocks into the cache, continuing its hash chain. */
    private void registerComputedBlocks(SequenceBlocks seq) {
        int full = seq.numComputed >> blockShift;
        for (int i = seq.numRegistered; i < full; i++) {
            int b = seq.table.get(i);
            int off = i << blockShift;
            long hi = hashHi(seq.lastHashHi, seq.lastHashLo, seq.tokens, off, blockSize, seq.extraKey);
            long lo = hashLo(seq.lastHashHi, seq.lastHashLo, seq.tokens, off, blockSize, seq.extraKey);
            // A block shared with a fork sibling may already be registered by the sibling: same content.
            long pid = gpu.isCached(b) ? gpu.prefixId(b)
                    : gpu.register(b, hi, lo, seq.extraKey, seq.lastPrefixId, seq.tokens, off, hostPrefixId(hi, lo, seq, off));
            seq.lastPrefixId = pid;
            seq.lastHashHi = hi;
            seq.lastHashLo = lo;
            seq.numRegistered = i + 1;
        }
    }

    /** The prefix id the host tier knows this block's content by (0 when it does not), so both tiers share one chain. */
    private long hostPrefixId(long hi, long lo, SequenceBlocks seq, int off) {
        if (offload.numBlocks() == 0) return 0;
        int h = offload.lookup(hi, lo, seq.extraKey, seq.lastPrefixId, seq.tokens, off);
        return h < 0 ? 0 : offload.prefixId(h);
    }

    public boolean canAppend(long seqId, int numTokens) {
        SequenceBlocks seq = onGpu(seqId);
        if (numTokens < 0) {
            throw new IllegalArgumentException("sequence " + seqId + ": cannot append " + numTokens + " tokens");
        }
        return gpu.numFree() >= blocksToAppend(seq, numTokens);
    }

    /**
     * Appends tokens (e.g. the sampled token whose KV the next step writes); allocates blocks as needed,
     * copy-on-write when the last block is shared. Returns the new tokens' slots, or null (nothing
     * changed) when no block is free.
     */
    public int[] appendTokens(long seqId, int... tokens) {
        SequenceBlocks seq = onGpu(seqId);
        if (gpu.numFree() < blocksToAppend(seq, tokens.length)) {
            return null;
        }
        int[] slots = new int[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            slots[i] = append(seq, tokens[i]);
        }
        return slots;
    }

    /** One-token {@link #appendTokens}: the decode hot path. Returns the slot, or -1 (nothing changed). */
    public int appendToken(long seqId, int token) {
        SequenceBlocks seq = onGpu(seqId);
        if (gpu.numFree() < blocksToAppend(seq, 1)) {
            return -1;
        }
        return append(seq, token);
    }

    private int blocksToAppend(SequenceBlocks seq, int numTokens) {
        if (numTokens == 0) {
            return 0;
        }
        int newBlocks = blocksFor(seq.numTokens + numTokens) - seq.table.size();
        boolean cow = (seq.numTokens & offsetMask) != 0 && gpu.refCount(seq.table.last()) > 1;
        return newBlocks + (cow ? 1 : 0);
    }

    /** Caller checked that the blocks are free. */
    private int append(SequenceBlocks seq, int token) {
        int pos = seq.numTokens;
        if ((pos & offsetMask) == 0) {
            seq.table.add(allocateGpu());
        } else {
            int last = seq.table.last();
            if (gpu.refCount(last) > 1) {
                int copy = allocateGpu();
                copySrc.add(last);
                copyDst.add(copy);
                gpu.release(last);
                seq.table.set(seq.table.size() - 1, copy);
                cowCopies++;
            }
        }
        seq.ensureTokenCapacity(pos + 1);
        seq.tokens[pos] = token;
        seq.numTokens = pos + 1;
        return slot(seq, pos);
    }

    /**
     * Block copies (src → dst) made by copy-on-write since the last drain; the backend performs them, in
     * order, before attention (and before any swap plan of the same step).
     */
    public BlockCopies drainCopies() {
        if (copySrc.size() == 0) {
            return NO_COPIES;
        }
        BlockCopies copies = new BlockCopies(copySrc.toArray(), copyDst.toArray());
        copySrc.clear();
        copyDst.clear();
        return copies;
    }

    // ---------------------------------------------------------------- fork and free

    /** The child shares every block of the parent (ref count + 1); its first append into a shared partial block copies it. */
    public void fork(long parentSeqId, long childSeqId) {
        SequenceBlocks parent = onGpu(parentSeqId);
        if (seqs.get(childSeqId) != null) {
            throw new IllegalStateException("cannot fork " + parentSeqId + " into " + childSeqId
                    + ": sequence " + childSeqId + " already exists");
        }
        SequenceBlocks child = obtain(childSeqId, parent.extraKey);
        child.copyFrom(parent);
        for (int i = 0; i < child.table.size(); i++) {
            gpu.retain(child.table.get(i));
        }
        seqs.put(childSeqId, child);
    }

    /** Releases the sequence's blocks, last block first; hashed blocks stay cached (evictable) until reused. */
    public void free(long seqId) {
        free(seqId, BlockPool.Retention.NORMAL, false);
    }

    /**
     * Releases the sequence's blocks, last block first, its cached ones into {@code retention}'s class;
     * with {@code keepShared}, blocks other requests have hit (a shared system prompt, core memories) go
     * to at least {@link BlockPool.Retention#SESSION}.
     */
    public void free(long seqId, BlockPool.Retention retention, boolean keepShared) {
        SequenceBlocks seq = seqs.remove(seqId);
        if (seq == null) {
            throw unknown(seqId);
        }
        if (seq.swapped) {
            for (int i = seq.table.size() - 1; i >= 0; i--) cpu.release(seq.table.get(i));
        } else {
            for (int i = seq.table.size() - 1; i >= 0; i--) {
                int b = seq.table.get(i);
                BlockPool.Retention r = keepShared && gpu.hits(b) > 0 && retention == BlockPool.Retention.NORMAL
                        ? BlockPool.Retention.SESSION : retention;
                gpu.release(b, r);
            }
        }
        seq.table.truncate(0);
        spare.push(seq);
    }

    /** Pins have expired: pinned free blocks become session blocks again (evictable before nothing else). */
    public int unpinAll() {
        return gpu.demote(BlockPool.Retention.PINNED, BlockPool.Retention.SESSION);
    }

    // ---------------------------------------------------------------- swap

    /**
     * Moves the sequence to the CPU pool: every GPU block gets its own CPU block (fork sharing is not
     * preserved on the CPU side). Null when the CPU pool lacks room (nothing changed).
     */
    public SwapPlan swapOut(long seqId) {
        SequenceBlocks seq = onGpu(seqId);
        SwapPlan plan = moveBlocks(seq, gpu, cpu, cpu::allocate);
        if (plan != null) {
            seq.swapped = true;
            seq.resetRegistration();
        }
        return plan;
    }

    /** Whether swapping the sequence in leaves the watermark reserve free. */
    public boolean canSwapIn(long seqId) {
        SequenceBlocks seq = swappedOut(seqId);
        return gpu.numFree() - seq.table.size() >= watermarkBlocks;
    }

    /**
     * Moves the sequence back to fresh GPU blocks. Its full computed blocks re-enter the prefix cache at
     * the next {@link #markComputed}, after the backend has performed this plan. Null when it does not fit.
     */
    public SwapPlan swapIn(long seqId) {
        SequenceBlocks seq = swappedOut(seqId);
        SwapPlan plan = moveBlocks(seq, cpu, gpu, this::allocateGpu);
        if (plan != null) {
            seq.swapped = false;
        }
        return plan;
    }

    /**
     * Gives each of the sequence's blocks in {@code from} a fresh block in {@code to} (releasing the old
     * ones last block first) and returns the copies to perform; null, with nothing changed, when
     * {@code to} lacks room.
     */
    private static SwapPlan moveBlocks(SequenceBlocks seq, BlockPool from, BlockPool to, java.util.function.IntSupplier allocate) {
        int n = seq.table.size();
        if (to.numFree() < n) {
            return null;
        }
        int[] src = seq.table.toArray();
        int[] dst = new int[n];
        for (int i = 0; i < n; i++) {
            dst[i] = allocate.getAsInt();
            seq.table.set(i, dst[i]);
        }
        for (int i = n - 1; i >= 0; i--) {
            from.release(src[i]);
        }
        return new SwapPlan(src, dst);
    }

    // ---------------------------------------------------------------- queries

    public boolean contains(long seqId) { return seqs.get(seqId) != null; }

    public boolean isSwappedOut(long seqId) { return known(seqId).swapped; }

    /** The live table (GPU ids, or CPU ids while swapped out); valid until the sequence is freed. */
    public BlockTable blockTable(long seqId) { return known(seqId).table; }

    public int numTokens(long seqId) { return known(seqId).numTokens; }

    public int numComputedTokens(long seqId) { return known(seqId).numComputed; }

    public int[] tokens(long seqId) {
        SequenceBlocks seq = known(seqId);
        return Arrays.copyOf(seq.tokens, seq.numTokens);
    }

    public int numSequences() { return seqs.size(); }

    /** Blocks needed to hold n tokens. */
    public int blocksFor(int numTokens) { return (numTokens + offsetMask) >> blockShift; }

    // ---------------------------------------------------------------- stats

    /** Fraction of GPU blocks held by sequences (cached free blocks count as free). */
    public double usage() { return (double) gpu.numUsed() / gpu.numBlocks(); }

    /** GPU blocks an allocation can take, including evictable cached ones. */
    public int numFreeBlocks() { return gpu.numFree(); }

    /** Free GPU blocks that still hold a cached prefix (a subset of {@link #numFreeBlocks()}). */
    public int numCachedBlocks() { return gpu.numCachedFree(); }

    public int numUsedBlocks() { return gpu.numUsed(); }

    public int numTotalBlocks() { return gpu.numBlocks(); }

    public int numFreeCpuBlocks() { return cpu.numFree(); }

    public int numTotalCpuBlocks() { return cpu.numBlocks(); }

    /** Prompt tokens looked up in the prefix cache (successful allocations with caching on). */
    public long prefixQueryTokens() { return prefixQueryTokens; }

    public long prefixHitTokens() { return prefixHitTokens; }

    public double prefixHitRate() {
        return prefixQueryTokens == 0 ? 0.0 : (double) prefixHitTokens / prefixQueryTokens;
    }

    public long copyOnWriteCopies() { return cowCopies; }

    /** Prompt tokens served by loading host-tier blocks back instead of recomputing them. */
    public long offloadHitTokens() { return offloadHitTokens; }

    /** Cached device blocks copied to the host tier on eviction. */
    public long offloadStores() { return offloadStores; }

    public int numOffloadBlocks() { return offload.numBlocks(); }

    /** Host-tier blocks holding a cached prefix. */
    public int numOffloadedBlocks() { return offload.numHashed(); }

    /** Free cached device blocks kept in {@code retention}'s class. */
    public int numRetainedBlocks(BlockPool.Retention retention) { return gpu.numFree(retention); }

    /** Cached blocks whose hash was dropped because the block was reallocated. */
    public long evictions() { return gpu.evictions(); }

    /**
     * Every block's {@link BlockState}: the GPU pool's blocks first (by id), then the CPU swap pool's
     * ({@link BlockState#SWAPPED} when held, else {@link BlockState#FREE}). Reads only; O(blocks).
     *
     * @param out at least {@link #numTotalBlocks()} + {@link #numTotalCpuBlocks()} long
     */
    public void blockStates(byte[] out) {
        int gpuBlocks = gpu.numBlocks();
        if (out.length < gpuBlocks + cpu.numBlocks()) {
            throw new IllegalArgumentException("block state array of " + out.length + " is shorter than the "
                    + gpuBlocks + " GPU and " + cpu.numBlocks() + " CPU blocks");
        }
        for (int b = 0; b < gpuBlocks; b++) {
            int refs = gpu.refCount(b);
            out[b] = refs > 1 ? BlockState.SHARED : refs == 1 ? BlockState.USED
                    : gpu.isCached(b) ? BlockState.CACHED : BlockState.FREE;
        }
        for (int b = 0; b < cpu.numBlocks(); b++) {
            out[gpuBlocks + b] = cpu.refCount(b) > 0 ? BlockState.SWAPPED : BlockState.FREE;
        }
    }

    /** The GPU pool, read-only use (tests, diagnostics). */
    BlockPool gpuPool() { return gpu; }

    // ---------------------------------------------------------------- invariants

    /**
     * Throws IllegalStateException describing the first violated invariant: pool structure, each block's
     * ref count equal to the number of tables holding it, table sizes, the prefix chain of each sequence,
     * and that blocks shared by several sequences hold identical tokens in every holder (no write into a
     * block another sequence reads). For tests.
     */
    public void checkInvariants() {
        gpu.checkInvariants();
        cpu.checkInvariants();
        offload.checkInvariants();
        if (offload.numUsed() != loadSrc.size()) {
            fail(offload.numUsed() + " host-tier blocks are held, but " + loadSrc.size() + " loads are pending");
        }
        if (offload.numHashed() != offload.numBlocks() - offload.numFree() + offload.numCachedFree()) {
            fail("a held host-tier block has no cached prefix");
        }
        int[] gpuHolders = new int[gpu.numBlocks()];
        int[] cpuHolders = new int[cpu.numBlocks()];
        SequenceBlocks[] firstHolder = new SequenceBlocks[gpu.numBlocks()];
        int[] firstIndex = new int[gpu.numBlocks()];
        seqs.forEach(seq -> {
            if (seq.table.size() != blocksFor(seq.numTokens)) {
                fail("sequence " + seq.id + " has " + seq.numTokens + " tokens but " + seq.table.size() + " blocks");
            }
            if (seq.numComputed < 0 || seq.numComputed > seq.numTokens) {
                fail("sequence " + seq.id + " has " + seq.numComputed + " computed of " + seq.numTokens + " tokens");
            }
            if (seq.numRegistered << blockShift > seq.numComputed) {
                fail("sequence " + seq.id + " registered " + seq.numRegistered + " blocks but computed only "
                        + seq.numComputed + " tokens");
            }
            if (seq.swapped) {
                for (int i = 0; i < seq.table.size(); i++) {
                    cpuHolders[seq.table.get(i)]++;
                }
                if (seq.numRegistered != 0) {
                    fail("swapped-out sequence " + seq.id + " claims registered blocks");
                }
                return;
            }
            for (int i = 0; i < seq.table.size(); i++) {
                int b = seq.table.get(i);
                gpuHolders[b]++;
                if (firstHolder[b] == null) {
                    firstHolder[b] = seq;
                    firstIndex[b] = i;
                } else {
                    checkSameContent(firstHolder[b], firstIndex[b], seq, i, b);
                }
            }
            checkPrefixChain(seq);
        });
        for (int b = 0; b < gpu.numBlocks(); b++) {
            if (gpu.refCount(b) != gpuHolders[b]) {
                fail("GPU block " + b + " has ref count " + gpu.refCount(b) + " but " + gpuHolders[b] + " holders");
            }
        }
        for (int b = 0; b < cpu.numBlocks(); b++) {
            if (cpu.refCount(b) != cpuHolders[b]) {
                fail("CPU block " + b + " has ref count " + cpu.refCount(b) + " but " + cpuHolders[b] + " holders");
            }
        }
    }

    private void checkSameContent(SequenceBlocks a, int ia, SequenceBlocks b, int ib, int block) {
        int na = Math.min(blockSize, a.numTokens - (ia << blockShift));
        int nb = Math.min(blockSize, b.numTokens - (ib << blockShift));
        if (na != nb || !Arrays.equals(a.tokens, ia << blockShift, (ia << blockShift) + na,
                b.tokens, ib << blockShift, (ib << blockShift) + nb)) {
            fail("GPU block " + block + " is shared by sequences " + a.id + " and " + b.id
                    + " whose tokens in it differ: one of them wrote into a shared block");
        }
    }

    private void checkPrefixChain(SequenceBlocks seq) {
        long pHi = PrefixHash.ROOT_HI;
        long pLo = PrefixHash.ROOT_LO;
        long pid = 0;
        for (int i = 0; i < seq.numRegistered; i++) {
            int b = seq.table.get(i);
            int off = i << blockShift;
            long hi = hashHi(pHi, pLo, seq.tokens, off, blockSize, seq.extraKey);
            long lo = hashLo(pHi, pLo, seq.tokens, off, blockSize, seq.extraKey);
            if (!gpu.isCached(b)) {
                fail("sequence " + seq.id + " block " + i + " (GPU " + b + ") is registered but not cached");
            }
            if (gpu.hashHi(b) != hi || gpu.hashLo(b) != lo || gpu.parentPrefixId(b) != pid
                    || !Arrays.equals(gpu.cachedTokens(b), 0, blockSize, seq.tokens, off, off + blockSize)) {
                fail("sequence " + seq.id + " block " + i + " (GPU " + b + ") is cached under a different prefix");
            }
            pid = gpu.prefixId(b);
            pHi = hi;
            pLo = lo;
        }
        if (seq.lastPrefixId != pid || seq.lastHashHi != pHi || seq.lastHashLo != pLo) {
            fail("sequence " + seq.id + " chain state does not match its block " + (seq.numRegistered - 1));
        }
    }

    private long hashHi(long parentHi, long parentLo, int[] tokens, int offset, int count, long extra) {
        return PrefixHash.hi(parentHi, parentLo, tokens, offset, count, extra) & hashMask;
    }

    private long hashLo(long parentHi, long parentLo, int[] tokens, int offset, int count, long extra) {
        return PrefixHash.lo(parentHi, parentLo, tokens, offset, count, extra) & hashMask;
    }

    private static void fail(String message) {
        throw new IllegalStateException(message);
    }

    // ---------------------------------------------------------------- helpers

    private SequenceBlocks obtain(long seqId, long extraKey) {
        SequenceBlocks seq = spare.isEmpty() ? new SequenceBlocks() : spare.pop();
        seq.reset(seqId, extraKey);
        return seq;
    }

    private SequenceBlocks known(long seqId) {
        SequenceBlocks seq = seqs.get(seqId);
        if (seq == null) {
            throw unknown(seqId);
        }
        return seq;
    }

    private SequenceBlocks onGpu(long seqId) {
        SequenceBlocks seq = known(seqId);
        if (seq.swapped) {
            throw new IllegalStateException("sequence " + seqId + " is swapped out; swap it in first");
        }
        return seq;
    }

    private SequenceBlocks swappedOut(long seqId) {
        SequenceBlocks seq = known(seqId);
        if (!seq.swapped) {
            throw new IllegalStateException("sequence " + seqId + " is not swapped out");
        }
        return seq;
    }

    private static IllegalArgumentException unknown(long seqId) {
        return new IllegalArgumentException("unknown sequence " + seqId + " (never allocated, or already freed)");
    }

    private static void checkPrompt(int[] promptTokens) {
        if (promptTokens == null || promptTokens.length == 0) {
            throw new IllegalArgumentException("prompt must have at least one token");
        }
    }

    private void checkRange(SequenceBlocks seq, int from, int to) {
        if (from < 0 || from > to || to > seq.numTokens) {
            throw new IllegalArgumentException("sequence " + seq.id + ": positions [" + from + ", " + to
                    + ") outside [0, " + seq.numTokens + ")");
        }
    }
}
