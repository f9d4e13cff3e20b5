package dev.kvasir.blockmanager;

import java.util.Arrays;

/**
 * The physical KV blocks of one device: ref counts, the free queue and the prefix cache, all in
 * primitive arrays indexed by block id, so that no operation allocates.
 *
 * <p>Free queue: an intrusive doubly linked list through {@code prev}/{@code next}, with a sentinel
 * at index {@code numBlocks}. Never-used blocks start in id order; a freed block that carries no
 * prefix hash goes to the head (it holds nothing worth keeping, so it is reused first), a freed
 * cached block to the tail (least recently freed is evicted first). Allocation pops the head; a
 * popped block that still carries a hash leaves the prefix cache at that moment (an eviction).
 * A cache hit on a free block pulls it out of the middle of the queue in O(1).
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

    private final int numBlocks;
    private final int blockSize;
    private final int sentinel;

    private final int[] refCount;
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
        prev = new int[numBlocks + 1];
        next = new int[numBlocks + 1];
        // Never-used blocks in id order: 0 is allocated first.
        for (int b = 0; b <= numBlocks; b++) {
            prev[b] = b == 0 ? sentinel : b - 1;
            next[b] = b == numBlocks ? 0 : b + 1;
        }
        if (numBlocks == 0) {
            prev[sentinel] = sentinel;
            next[sentinel] = sentinel;
        } else {
            prev[sentinel] = numBlocks - 1;
            next[numBlocks - 1] = sentinel;
        }
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

    /** Pops the head of the free queue with ref count 1, evicting its hash; {@code -1} when none is free. */
    public int allocate() {
        int b = next[sentinel];
        if (b == sentinel) {
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

    /** Drops a holder; at zero the block joins the free queue (head if unhashed, tail if cached). */
    public void release(int block) {
        checkBlock(block);
        if (refCount[block] <= 0) {
            throw new IllegalStateException("block " + block + " released with ref count " + refCount[block]);
        }
        if (--refCount[block] == 0) {
            if (prefixId[block] != 0) {
                linkBefore(block, sentinel);
                numHashedFree++;
            } else {
                linkBefore(block, next[sentinel]);
            }
            numFree++;
        }
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
        long id = twin == NONE ? nextPrefixId++ : prefixId[twin];
        hashHi[block] = hi;
        hashLo[block] = lo;
        extraKey[block] = extra;
        parentPrefixId[block] = parentId;
        prefixId[block] = id;
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

    long parentPrefixId(int block) { return parentPrefixId[block]; }

    long hashHi(int block) { return hashHi[block]; }

    long hashLo(int block) { return hashLo[block]; }

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

    /** Free ids in queue order, head first (for tests). */
    int[] freeQueue() {
        int[] out = new int[numFree];
        int i = 0;
        for (int b = next[sentinel]; b != sentinel && i < out.length; b = next[b]) {
            out[i++] = b;
        }
        return out;
    }

    /** Throws IllegalStateException naming the first broken structural invariant of the pool. */
    public void checkInvariants() {
        boolean[] inQueue = new boolean[numBlocks];
        int count = 0;
        int hashedFree = 0;
        int p = sentinel;
        for (int b = next[sentinel]; b != sentinel; b = next[b]) {
            if (b < 0 || b >= numBlocks) {
                throw new IllegalStateException("free queue links to invalid block " + b);
            }
            if (inQueue[b]) {
                throw new IllegalStateException("free queue has a cycle at block " + b);
            }
            if (prev[b] != p) {
                throw new IllegalStateException("free queue prev link of block " + b + " is " + prev[b] + ", expected " + p);
            }
            if (refCount[b] != 0) {
                throw new IllegalStateException("block " + b + " is in the free queue with ref count " + refCount[b]);
            }
            inQueue[b] = true;
            if (prefixId[b] != 0) {
                hashedFree++;
            }
            count++;
            p = b;
        }
        if (prev[sentinel] != p) {
            throw new IllegalStateException("free queue tail is " + prev[sentinel] + ", expected " + p);
        }
        if (count != numFree) {
            throw new IllegalStateException("free queue holds " + count + " blocks, counter says " + numFree);
        }
        if (hashedFree != numHashedFree) {
            throw new IllegalStateException(hashedFree + " cached blocks are free, counter says " + numHashedFree);
        }
        for (int b = 0; b < numBlocks; b++) {
            if (refCount[b] < 0) {
                throw new IllegalStateException("block " + b + " has negative ref count " + refCount[b]);
            }
            if (refCount[b] == 0 && !inQueue[b]) {
                throw new IllegalStateException("block " + b + " has ref count 0 but is not in the free queue");
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
