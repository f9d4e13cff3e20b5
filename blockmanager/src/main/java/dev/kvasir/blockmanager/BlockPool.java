package dev.kvasir.blockmanager;

import java.util.Arrays;

/**
 * The physical KV blocks of one device: ref counts, the free queue and the prefix cache, all in
 * primitive arrays indexed by block id, so that no operation allocates.
 *
 * <p>Free queue: one intrusive doubly linked list per {@link Retention} class through
 * {@code prev}/{@code next}, with sentinels at indices {@code numBlocks + class}. Never-used blocks
 * start in id order in the first list; a freed block that carries no prefix hash goes to the head of
 * the first list (it holds nothing worth keeping, so it is reused first), a freed cached block to the
 * tail of its retention class's list (least recently freed first within a class). Allocation pops
 * the head of the first non-empty list, so a class is evicted only once every lower class is empty;
 * a popped block that still carries a hash leaves the prefix cache at that moment (an eviction). A
 * cache hit on a free block pulls it out of the middle of its list in O(1).
 *
 * <p>Prefix cache: a chained hash table (bucket heads, intrusive {@code bucketNext/bucketPrev})
 * over cached blocks keyed by their 128-bit hash. A cached block also keeps its token ids, extra key
 * and the prefix id of its parent, so a lookup verifies content exactly: a hash collision costs
 * a miss, never wrong KV. Prefix ids name the content of a whole prefix: two cached blocks share one
 * exactly when their token prefixes (and extra keys) are equal, so duplicates may coexist.
 *
 * <p>Not thread-safe: one engine thread owns it.
 */
public final class BlockPool {

    static final int NONE = -1;

    /**
     * How long a freed cached block should outlive others: every block of a lower class is evicted
     * before any of a higher one. The engine picks the class when it frees a sequence.
     */
    public enum Retention {
        /** Plain LRU: evicted first. */
        NORMAL,
        /** The prefix of an active session (or a prefix shared by several requests): kept longer. */
        SESSION,
        /** Pinned by a request for a while: evicted only when nothing else is free. */
        PINNED
    }

    private static final Retention[] CLASSES = Retention.values();

    private final int numBlocks;
    private final int blockSize;
    /** Sentinel of the list of class c is {@code numBlocks + c}. */
    private final int sentinel;

    private final int[] refCount;
    /** The retention class list a free block is in (its ordinal). */
    private final byte[] freeClass;
    /** Prefix-cache hits on each cached block since it was cached (0 for uncached blocks). */
    private final int[] hits;
    private final int[] prev;
    private final int[] next;
    private int numFree;

    private final long[] hashHi;
    private final long[] hashLo;
    private final long[] extraKey;
    /** 0 when the block is not in the prefix cache. */
    private final long[] prefixId;
    private final long[] parentPrefixId;
    private final int[] cachedTokens;
    private final int[] buckets;
    private final int[] bucketNext;
    private final int[] bucketPrev;
    private final int bucketMask;
    private int numHashed;
    private int numHashedFree;
    private long nextPrefixId = 1;
    private long evictions;

    public BlockPool(int numBlocks, int blockSize) {
        if (numBlocks < 0) {
            throw new IllegalArgumentException("numBlocks must be >= 0, got " + numBlocks);
        }
        if (blockSize <= 0 || Integer.bitCount(blockSize) != 1) {
            throw new IllegalArgumentException("blockSize must be a power of two, got " + blockSize);
        }
        if ((long) numBlocks * blockSize > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("numBlocks * blockSize must fit an int slot index, got "
                    + numBlocks + " * " + blockSize);
        }
        this.numBlocks = numBlocks;
        this.blockSize = blockSize;
        this.sentinel = numBlocks;
        refCount = new int[numBlocks];
        freeClass = new byte[numBlocks];
        hits = new int[numBlocks];
        prev = new int[numBlocks + CLASSES.length];
        next = new int[numBlocks + CLASSES.length];
        for (int c = 0; c < CLASSES.length; c++) {
            prev[sentinel + c] = sentinel + c;
            next[sentinel + c] = sentinel + c;
        }
        // Never-used blocks in id order in the first list: 0 is allocated first.
        for (int b = 0; b < numBlocks; b++) linkBefore(b, sentinel);
        numFree = numBlocks;

        hashHi = new long[numBlocks];
        hashLo = new long[numBlocks];
        extraKey = new long[numBlocks];
        prefixId = new long[numBlocks];
        parentPrefixId = new long[numBlocks];
        cachedTokens = new int[numBlocks * blockSize];
        // At most one cached block per bucket on average; chains stay short.
        int capacity = Math.min(Integer.highestOneBit(Math.max(1, numBlocks)) << 1, 1 << 30);
        buckets = new int[capacity];
        Arrays.fill(buckets, NONE);
        bucketMask = capacity - 1;
        bucketNext = new int[numBlocks];
        bucketPrev = new int[numBlocks];
    }

    public int numBlocks() { return numBlocks; }

    public int blockSize() { return blockSize; }

    /** Blocks an allocation can take: never used, freed, or cached with no holder (evictable). */
    public int numFree() { return numFree; }

    /** Blocks with ref count > 0. */
    public int numUsed() { return numBlocks - numFree; }

    /** Free blocks that still carry a prefix hash: reusable by a hit until evicted. */
    public int numCachedFree() { return numHashedFree; }

    /** All blocks in the prefix cache, held or not. */
    public int numHashed() { return numHashed; }

    public long evictions() { return evictions; }

    public int refCount(int block) {
        checkBlock(block);
        return refCount[block];
    }

    public boolean isCached(int block) {
        checkBlock(block);
        return prefixId[block] != 0;
    }

    /** The block {@link #allocate} would pop next (so a caller can save a cached block's content first); -1 when none is free. */
    public int nextToAllocate() {
        for (int c = 0; c < CLASSES.length; c++) {
            int b = next[sentinel + c];
            if (b != sentinel + c) return b;
        }
        return NONE;
    }

    /** Pops the head of the first non-empty free list with ref count 1, evicting its hash; {@code -1} when none is free. */
    public int allocate() {
        int b = nextToAllocate();
        if (b == NONE) {
            return NONE;
        }
        unlinkFree(b);
        if (prefixId[b] != 0) {
            uncache(b);
            evictions++;
        }
        refCount[b] = 1;
        return b;
    }

    /** Adds a holder; a free (cached) block leaves the free queue. */
    public void retain(int block) {
        checkBlock(block);
        if (refCount[block] == 0) {
            unlinkFree(block);
        }
        refCount[block]++;
    }

    /** Adds a holder that found the block through the prefix cache (counted: shared prefixes are kept longer). */
    public void retainHit(int block) {
        retain(block);
        hits[block]++;
    }

    /** Prefix-cache hits on a cached block since it was cached. */
    public int hits(int block) {
        checkBlock(block);
        return hits[block];
    }

    /** Drops a holder; at zero the block joins the free queue as {@link Retention#NORMAL}. */
    public void release(int block) {
        release(block, Retention.NORMAL);
    }

    /**
     * Drops a holder; at zero the block joins the free queue: at the head of the first list when it
     * is not cached, else at the tail of {@code retention}'s list.
     */
    public void release(int block, Retention retention) {
        checkBlock(block);
        if (refCount[block] <= 0) {
            throw new IllegalStateException("block " + block + " released with ref count " + refCount[block]);
        }
        if (--refCount[block] == 0) {
            if (prefixId[block] != 0) {
                freeClass[block] = (byte) retention.ordinal();
                linkBefore(block, sentinel + retention.ordinal());
                numHashedFree++;
            } else {
                freeClass[block] = 0;
                linkBefore(block, next[sentinel]);
            }
            numFree++;
        }
    }

    /**
     * Moves every free cached block of class {@code from} to the tail of {@code to}'s list, oldest
     * first (pins that expired go back to the session class); returns how many moved.
     */
    public int demote(Retention from, Retention to) {
        int moved = 0;
        int head = sentinel + from.ordinal();
        for (int b = next[head]; b != head; b = next[head]) {
            unlinkFree(b);
            numFree++;
            if (prefixId[b] != 0) numHashedFree++;
            freeClass[b] = (byte) to.ordinal();
            linkBefore(b, sentinel + to.ordinal());
            moved++;
        }
        return moved;
    }

    /** Free blocks in {@code retention}'s list. */
    public int numFree(Retention retention) {
        int n = 0;
        int head = sentinel + retention.ordinal();
        for (int b = next[head]; b != head; b = next[b]) n++;
        return n;
    }

    /**
     * The cached block whose hash is (hi, lo) and whose content is exactly these tokens under this
     * extra key following the prefix {@code parentId} (0 for the root); {@code -1} on a miss.
     */
    public int lookup(long hi, long lo, long extra, long parentId, int[] tokens, int offset) {
        for (int b = buckets[bucket(hi)]; b != NONE; b = bucketNext[b]) {
            if (hashHi[b] == hi && hashLo[b] == lo && extraKey[b] == extra
                    && parentPrefixId[b] == parentId && sameTokens(b, tokens, offset)) {
                return b;
            }
        }
        return NONE;
    }

    /**
     * Enters a held, full, computed block into the prefix cache and returns its prefix id: that of an
     * equal cached block when there is one (a duplicate), otherwise a new one.
     */
    public long register(int block, long hi, long lo, long extra, long parentId, int[] tokens, int offset) {
        return register(block, hi, lo, extra, parentId, tokens, offset, 0);
    }

    /**
     * {@link #register}, naming the prefix {@code idIfNew} (when positive) instead of a fresh id when no
     * equal block is cached here: how a second pool (the host offload tier) shares the first's prefix ids.
     */
    public long register(int block, long hi, long lo, long extra, long parentId, int[] tokens, int offset, long idIfNew) {
        checkBlock(block);
        if (refCount[block] <= 0) {
            throw new IllegalStateException("block " + block + " registered while free");
        }
        if (prefixId[block] != 0) {
            throw new IllegalStateException("block " + block + " is already in the prefix cache");
        }
        if (offset < 0 || offset + blockSize > tokens.length) {
            throw new IllegalArgumentException("block tokens [" + offset + ", " + (offset + blockSize)
                    + ") out of range for " + tokens.length + " tokens");
        }
        int twin = lookup(hi, lo, extra, parentId, tokens, offset);
        long id = twin != NONE ? prefixId[twin] : idIfNew > 0 ? idIfNew : nextPrefixId++;
        hashHi[block] = hi;
        hashLo[block] = lo;
        extraKey[block] = extra;
        parentPrefixId[block] = parentId;
        prefixId[block] = id;
        hits[block] = 0;
        System.arraycopy(tokens, offset, cachedTokens, block * blockSize, blockSize);
        int bk = bucket(hi);
        int head = buckets[bk];
        bucketPrev[block] = NONE;
        bucketNext[block] = head;
        if (head != NONE) {
            bucketPrev[head] = block;
        }
        buckets[bk] = block;
        numHashed++;
        return id;
    }

    /** Prefix id of a cached block; 0 when it is not cached. */
    public long prefixId(int block) {
        checkBlock(block);
        return prefixId[block];
    }

    public long parentPrefixId(int block) { return parentPrefixId[block]; }

    public long hashHi(int block) { return hashHi[block]; }

    public long hashLo(int block) { return hashLo[block]; }

    public long extraKey(int block) { return extraKey[block]; }

    /** The cached block's token ids into {@code out} at {@code offset} (allocation-free). */
    public void copyCachedTokens(int block, int[] out, int offset) {
        System.arraycopy(cachedTokens, block * blockSize, out, offset, blockSize);
    }

    /** The token ids a cached block was registered with (a copy; for tests and diagnostics). */
    public int[] cachedTokens(int block) {
        checkBlock(block);
        if (prefixId[block] == 0) {
            throw new IllegalStateException("block " + block + " is not in the prefix cache");
        }
        return Arrays.copyOfRange(cachedTokens, block * blockSize, (block + 1) * blockSize);
    }

    private boolean sameTokens(int block, int[] tokens, int offset) {
        return Arrays.equals(cachedTokens, block * blockSize, (block + 1) * blockSize,
                tokens, offset, offset + blockSize);
    }

    private int bucket(long hi) {
        return (int) (hi ^ (hi >>> 32)) & bucketMask;
    }

    private void uncache(int b) {
        int p = bucketPrev[b];
        int n = bucketNext[b];
        if (p == NONE) {
            buckets[bucket(hashHi[b])] = n;
        } else {
            bucketNext[p] = n;
        }
        if (n != NONE) {
            bucketPrev[n] = p;
        }
        prefixId[b] = 0;
        hits[b] = 0;
        numHashed--;
    }

    private void unlinkFree(int b) {
        int p = prev[b];
        int n = next[b];
        next[p] = n;
        prev[n] = p;
        prev[b] = NONE;
        next[b] = NONE;
        numFree--;
        if (prefixId[b] != 0) {
            numHashedFree--;
        }
    }

    private void linkBefore(int b, int at) {
        int p = prev[at];
        prev[b] = p;
        next[b] = at;
        next[p] = b;
        prev[at] = b;
    }

    private void checkBlock(int block) {
        if (block < 0 || block >= numBlocks) {
            throw new IllegalArgumentException("block id " + block + " out of range [0, " + numBlocks + ")");
        }
    }

    /** Free ids in allocation order: each class's list head first, lower classes first (for tests). */
    int[] freeQueue() {
        int[] out = new int[numFree];
        int i = 0;
        for (int c = 0; c < CLASSES.length; c++) {
            int head = sentinel + c;
            for (int b = next[head]; b != head && i < out.length; b = next[b]) out[i++] = b;
        }
        return out;
    }

    /** Throws IllegalStateException naming the first broken structural invariant of the pool. */
    public void checkInvariants() {
        boolean[] inQueue = new boolean[numBlocks];
        int count = 0;
        int hashedFree = 0;
        for (int c = 0; c < CLASSES.length; c++) {
            int head = sentinel + c;
            int p = head;
            for (int b = next[head]; b != head; b = next[b]) {
                if (b < 0 || b >= numBlocks) {
                    throw new IllegalStateException("free list " + CLASSES[c] + " links to invalid block " + b);
                }
                if (inQueue[b]) {
                    throw new IllegalStateException("free lists have a cycle or a shared block at block " + b);
                }
                if (prev[b] != p) {
                    throw new IllegalStateException("free list prev link of block " + b + " is " + prev[b] + ", expected " + p);
                }
                if (refCount[b] != 0) {
                    throw new IllegalStateException("block " + b + " is in a free list with ref count " + refCount[b]);
                }
                if (freeClass[b] != c) {
                    throw new IllegalStateException("block " + b + " is in the " + CLASSES[c] + " list but marked " + CLASSES[freeClass[b]]);
                }
                if (c > 0 && prefixId[b] == 0) {
                    throw new IllegalStateException("uncached block " + b + " is in the " + CLASSES[c] + " list");
                }
                inQueue[b] = true;
                if (prefixId[b] != 0) {
                    hashedFree++;
                }
                count++;
                p = b;
            }
            if (prev[head] != p) {
                throw new IllegalStateException("free list " + CLASSES[c] + " tail is " + prev[head] + ", expected " + p);
            }
        }
        if (count != numFree) {
            throw new IllegalStateException("free lists hold " + count + " blocks, counter says " + numFree);
        }
        if (hashedFree != numHashedFree) {
            throw new IllegalStateException(hashedFree + " cached blocks are free, counter says " + numHashedFree);
        }
        for (int b = 0; b < numBlocks; b++) {
            if (refCount[b] < 0) {
                throw new IllegalStateException("block " + b + " has negative ref count " + refCount[b]);
            }
            if (refCount[b] == 0 && !inQueue[b]) {
                throw new IllegalStateException("block " + b + " has ref count 0 but is not in a free list");
            }
            if (prefixId[b] == 0 && hits[b] != 0) {
                throw new IllegalStateException("uncached block " + b + " counts " + hits[b] + " hits");
            }
        }
        int hashed = 0;
        boolean[] seen = new boolean[numBlocks];
        for (int bk = 0; bk < buckets.length; bk++) {
            int before = NONE;
            for (int b = buckets[bk]; b != NONE; b = bucketNext[b]) {
                if (seen[b]) {
                    throw new IllegalStateException("block " + b + " appears twice in the prefix cache");
                }
                seen[b] = true;
                if (prefixId[b] == 0) {
                    throw new IllegalStateException("uncached block " + b + " is linked into the prefix cache");
                }
                if (bucket(hashHi[b]) != bk) {
                    throw new IllegalStateException("cached block " + b + " is in the wrong bucket");
                }
                if (bucketPrev[b] != before) {
                    throw new IllegalStateException("cache chain prev link of block " + b + " is broken");
                }
                before = b;
                hashed++;
            }
        }
        for (int b = 0; b < numBlocks; b++) {
            if (prefixId[b] != 0 && !seen[b]) {
                throw new IllegalStateException("cached block " + b + " is missing from its hash bucket");
            }
        }
        if (hashed != numHashed) {
            throw new IllegalStateException("prefix cache holds " + hashed + " blocks, counter says " + numHashed);
        }
    }
}
