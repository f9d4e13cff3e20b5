package dev.kvasir.blockmanager;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Property test as seeded random operation sequences: thousands of allocate, chunked prefill, append,
 * fork, free (into random retention classes), unpin, swap and misuse operations on a small pool (so
 * exhaustion is frequent), with and without a host offload tier, against a model of the device and host
 * memory. The test writes each position's "KV" (a hash of the sequence's whole prefix and extra key, as
 * real KV depends on every earlier token) into the slot the manager names, performs the offload,
 * copy-on-write and swap copies it is handed in the engine's order, and after every operation checks the manager's invariants
 * and that every sequence still reads its own correct KV at every computed position: a prefix hit on
 * wrong content, a write into a block another sequence reads, or a lost copy all show up as a wrong
 * value. Failed operations must leave the manager unchanged.
 */
class RandomOperationsTest {

    private static final int OPS = 3_000;

    /** What the test knows about one live sequence. */
    private static final class Model {
        final long id;
        final long extraKey;
        int[] tokens;
        long[] kv;
        int computed;

        Model(long id, long extraKey, int[] tokens) {
            this.id = id;
            this.extraKey = extraKey;
            this.tokens = tokens.clone();
            this.kv = new long[tokens.length];
            long h = extraKey * 0x9e3779b97f4a7c15L + 1;
            for (int i = 0; i < tokens.length; i++) {
                h = kvAfter(h, tokens[i]);
                kv[i] = h;
            }
        }

        Model copy(long newId) {
            Model m = new Model(newId, extraKey, new int[0]);
            m.tokens = tokens.clone();
            m.kv = kv.clone();
            m.computed = computed;
            return m;
        }

        void append(int token) {
            long prev = tokens.length == 0 ? extraKey * 0x9e3779b97f4a7c15L + 1 : kv[tokens.length - 1];
            tokens = Arrays.copyOf(tokens, tokens.length + 1);
            kv = Arrays.copyOf(kv, kv.length + 1);
            tokens[tokens.length - 1] = token;
            kv[kv.length - 1] = kvAfter(prev, token);
        }

        static long kvAfter(long h, int token) {
            long x = (h ^ token) * 0xbf58476d1ce4e5b9L;
            return x ^ (x >>> 29);
        }
    }

    private final List<Model> live = new ArrayList<>();
    private KvCacheManager manager;
    private long[] gpuKv;
    private long[] cpuKv;
    private long[] hostKv;
    private int blockSize;
    private long nextId;
    private int[][] sharedPrefixes;

    /** hashBits below 64 weaken the prefix hash so that collisions are everyday events. */
    @ParameterizedTest(name = "seed {0}, block size {1}, {2} GPU / {3} CPU / {6} host-tier blocks, prefix caching {4}, {5}-bit hash")
    @CsvSource({
        "1, 4, 48, 24, true, 64, 0",
        "2, 4, 64, 0, true, 64, 0",
        "3, 16, 24, 12, true, 64, 0",
        "4, 2, 96, 32, true, 64, 0",
        "5, 1, 200, 50, true, 64, 0",
        "6, 4, 48, 24, false, 64, 0",
        "7, 8, 40, 40, true, 64, 0",
        "8, 4, 32, 8, true, 64, 0",
        "9, 4, 48, 24, true, 1, 0",
        "10, 2, 64, 16, true, 2, 0",
        "11, 1, 128, 32, true, 0, 0",
        "12, 4, 48, 24, true, 64, 32",
        "13, 4, 32, 0, true, 64, 96",
        "14, 2, 64, 16, true, 2, 16",
        "15, 8, 40, 8, true, 64, 4",
        "16, 1, 96, 32, true, 0, 48",
    })
    void randomOperationsKeepEveryInvariant(long seed, int bs, int gpuBlocks, int cpuBlocks, boolean caching,
                                            int hashBits, int offloadBlocks) {
        Random rnd = new Random(seed);
        blockSize = bs;
        long mask = hashBits == 64 ? -1L : (1L << hashBits) - 1;
        manager = new KvCacheManager(gpuBlocks, bs, cpuBlocks, offloadBlocks, 0.05, caching, mask);
        gpuKv = new long[gpuBlocks * bs];
        cpuKv = new long[Math.max(1, cpuBlocks) * bs];
        hostKv = new long[Math.max(1, offloadBlocks) * bs];
        sharedPrefixes = new int[][] {tokens(rnd, 3 * bs + 1), tokens(rnd, 5 * bs), tokens(rnd, 2 * bs + 3)};
        int failures = 0;
        int hits = 0;
        for (int op = 0; op < OPS; op++) {
            int kind = rnd.nextInt(100);
            String what;
            if (kind < 20 || live.isEmpty()) {
                what = "allocate";
                int r = allocate(rnd);
                failures += r < 0 ? 1 : 0;
                hits += r > 0 ? 1 : 0;
            } else if (kind < 30) {
                what = "prefill chunk";
                computeChunk(pick(rnd), rnd);
            } else if (kind < 62) {
                what = "append";
                failures += append(pick(rnd), rnd) ? 0 : 1;
            } else if (kind < 70) {
                what = "fork";
                fork(pick(rnd));
            } else if (kind < 84) {
                what = "free";
                Model m = pick(rnd);
                BlockPool.Retention[] classes = BlockPool.Retention.values();
                manager.free(m.id, classes[rnd.nextInt(classes.length)], rnd.nextBoolean());
                live.remove(m);
                if (rnd.nextInt(10) == 0) manager.unpinAll();
            } else if (kind < 90) {
                what = "swap out";
                failures += swapOut(pick(rnd)) ? 0 : 1;
            } else if (kind < 96) {
                what = "swap in";
                failures += swapIn(pick(rnd)) ? 0 : 1;
            } else if (kind < 98) {
                what = "oversized prompt";
                String before = snapshot(-1);
                int[] huge = tokens(rnd, (gpuBlocks + 1) * bs);
                assertEquals(-1, manager.allocatePrompt(nextId++, huge, 0));
                assertEquals(before, snapshot(-1), "a failed allocation changed the manager");
            } else {
                what = "misuse";
                misuse(rnd);
            }
            try {
                manager.checkInvariants();
                checkKv();
            } catch (IllegalStateException | AssertionError e) {
                throw new AssertionError("after op " + op + " (" + what + "): " + e.getMessage(), e);
            }
        }
        assertTrue(failures > 20, "the pool was exhausted only " + failures + " times; the test is too gentle");
        if (caching) {
            assertTrue(hits > 20, "only " + hits + " prefix hits; the test does not exercise the cache");
        }
        if (offloadBlocks > 0) {
            assertTrue(manager.offloadStores() > 20, "only " + manager.offloadStores() + " offload stores");
            assertTrue(manager.offloadHitTokens() >= 2L * bs, "only " + manager.offloadHitTokens() + " tokens loaded back");
        }
        for (Model m : new ArrayList<>(live)) {
            manager.free(m.id);
            live.remove(m);
        }
        assertEquals(gpuBlocks, manager.numFreeBlocks(), "blocks leaked");
        assertEquals(0, manager.numUsedBlocks());
        assertEquals(cpuBlocks, manager.numFreeCpuBlocks(), "CPU blocks leaked");
        manager.checkInvariants();
    }

    private Model pick(Random rnd) {
        return live.get(rnd.nextInt(live.size()));
    }

    private static int[] tokens(Random rnd, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(4); // a tiny vocabulary: equal blocks under different prefixes are common
        }
        return t;
    }

    private int allocate(Random rnd) {
        int[] suffix = tokens(rnd, 1 + rnd.nextInt(4 * blockSize));
        int[] prompt = suffix;
        if (rnd.nextInt(4) != 0) {
            int[] prefix = sharedPrefixes[rnd.nextInt(sharedPrefixes.length)];
            prompt = Arrays.copyOf(prefix, prefix.length + suffix.length);
            System.arraycopy(suffix, 0, prompt, prefix.length, suffix.length);
        }
        long extra = rnd.nextInt(5) == 0 ? 1 : 0;
        long id = nextId++;
        String before = snapshot(-1);
        boolean fits = manager.canAllocatePrompt(prompt, extra);
        int cached = manager.allocatePrompt(id, prompt, extra);
        if (cached < 0) {
            assertEquals(before, snapshot(-1), "a failed allocation changed the manager");
            assertTrue(!fits, "canAllocatePrompt said yes, allocatePrompt failed");
            return -1;
        }
        OffloadCopies offloads = manager.drainOffloads();
        store(offloads);
        load(offloads);
        assertEquals(0, cached % blockSize, "cached tokens are whole blocks");
        assertTrue(cached < prompt.length, "the last prompt token is never cached");
        Model m = new Model(id, extra, prompt);
        m.computed = cached; // the hit's KV must already be right: checkKv verifies it below
        live.add(m);
        if (rnd.nextBoolean()) {
            computeChunk(m, rnd);
        }
        return cached;
    }

    /** Chunked prefill: write the KV of the next few uncomputed positions, then mark them computed. */
    private void computeChunk(Model m, Random rnd) {
        if (manager.isSwappedOut(m.id) || m.computed == m.tokens.length) {
            return;
        }
        int to = m.computed + 1 + rnd.nextInt(m.tokens.length - m.computed);
        write(m, m.computed, to);
        manager.markComputed(m.id, to);
        m.computed = to;
    }

    private void write(Model m, int from, int to) {
        int[] slots = manager.slotMapping(m.id, from, to);
        for (int p = from; p < to; p++) {
            gpuKv[slots[p - from]] = m.kv[p];
        }
    }

    /** A decode step: compute everything pending, then append the sampled token(s). */
    private boolean append(Model m, Random rnd) {
        if (manager.isSwappedOut(m.id)) {
            return true;
        }
        if (m.computed < m.tokens.length) {
            write(m, m.computed, m.tokens.length);
            manager.markComputed(m.id, m.tokens.length);
            m.computed = m.tokens.length;
        }
        int n = rnd.nextInt(8) == 0 ? 1 + rnd.nextInt(2 * blockSize) : 1; // sometimes speculative bursts
        int[] newTokens = new int[n];
        for (int i = 0; i < n; i++) {
            newTokens[i] = rnd.nextInt(4);
        }
        String before = snapshot(m.id);
        boolean can = manager.canAppend(m.id, n);
        int[] slots = n == 1 ? single(manager.appendToken(m.id, newTokens[0])) : manager.appendTokens(m.id, newTokens);
        if (slots == null) {
            assertEquals(before, snapshot(m.id), "a failed append changed the manager");
            assertTrue(!can, "canAppend said yes, append failed");
            return false;
        }
        assertTrue(can, "canAppend said no, append succeeded");
        OffloadCopies offloads = manager.drainOffloads();
        store(offloads); // before anything writes the reused device blocks
        assertEquals(0, offloads.loadSrc().length, "an append loads nothing from the host tier");
        BlockCopies copies = manager.drainCopies();
        for (int i = 0; i < copies.size(); i++) {
            copyBlock(gpuKv, copies.src()[i], gpuKv, copies.dst()[i]);
        }
        int[] expected = new int[n];
        for (int i = 0; i < n; i++) {
            m.append(newTokens[i]);
        }
        manager.slotMapping(m.id, m.tokens.length - n, m.tokens.length, expected, 0);
        assertArrayEquals(expected, slots, "append returned other slots than slotMapping");
        return true;
    }

    private static int[] single(int slot) {
        return slot < 0 ? null : new int[] {slot};
    }

    private void fork(Model parent) {
        if (manager.isSwappedOut(parent.id)) {
            return;
        }
        long child = nextId++;
        manager.fork(parent.id, child);
        live.add(parent.copy(child));
    }

    private boolean swapOut(Model m) {
        if (manager.isSwappedOut(m.id)) {
            return true;
        }
        String before = snapshot(m.id);
        SwapPlan plan = manager.swapOut(m.id);
        if (plan == null) {
            assertEquals(before, snapshot(m.id), "a failed swap-out changed the manager");
            return false;
        }
        for (int i = 0; i < plan.size(); i++) {
            copyBlock(gpuKv, plan.src()[i], cpuKv, plan.dst()[i]);
        }
        return true;
    }

    private boolean swapIn(Model m) {
        if (!manager.isSwappedOut(m.id)) {
            return true;
        }
        String before = snapshot(m.id);
        SwapPlan plan = manager.swapIn(m.id);
        if (plan == null) {
            assertEquals(before, snapshot(m.id), "a failed swap-in changed the manager");
            return false;
        }
        store(manager.drainOffloads()); // the swap-in writes device blocks that may have held offloaded prefixes
        for (int i = 0; i < plan.size(); i++) {
            copyBlock(cpuKv, plan.src()[i], gpuKv, plan.dst()[i]);
        }
        manager.markComputed(m.id, m.computed);
        return true;
    }

    private void misuse(Random rnd) {
        String before = snapshot(-1);
        long unknown = nextId + 1_000;
        switch (rnd.nextInt(5)) {
            case 0 -> assertThrows(IllegalArgumentException.class, () -> manager.free(unknown));
            case 1 -> assertThrows(IllegalArgumentException.class, () -> manager.appendTokens(unknown, 1));
            case 2 -> assertThrows(IllegalArgumentException.class, () -> manager.markComputed(unknown, 1));
            case 3 -> {
                Model m = pick(rnd);
                assertThrows(IllegalStateException.class, () -> manager.allocatePrompt(m.id, new int[] {1}, 0));
            }
            default -> {
                Model m = pick(rnd);
                if (!manager.isSwappedOut(m.id)) {
                    assertThrows(IllegalArgumentException.class, () -> manager.markComputed(m.id, -3));
                }
            }
        }
        assertEquals(before, snapshot(-1), "misuse changed the manager");
    }

    private void store(OffloadCopies c) {
        for (int i = 0; i < c.storeSrc().length; i++) copyBlock(gpuKv, c.storeSrc()[i], hostKv, c.storeDst()[i]);
    }

    private void load(OffloadCopies c) {
        for (int i = 0; i < c.loadSrc().length; i++) copyBlock(hostKv, c.loadSrc()[i], gpuKv, c.loadDst()[i]);
    }

    private void copyBlock(long[] from, int src, long[] to, int dst) {
        System.arraycopy(from, src * blockSize, to, dst * blockSize, blockSize);
    }

    /** Every live sequence reads exactly its own KV at every computed position, wherever it lives. */
    private void checkKv() {
        for (Model m : live) {
            assertEquals(m.tokens.length, manager.numTokens(m.id), "token count of sequence " + m.id);
            assertArrayEquals(m.tokens, manager.tokens(m.id), "tokens of sequence " + m.id);
            BlockTable t = manager.blockTable(m.id);
            long[] kv = manager.isSwappedOut(m.id) ? cpuKv : gpuKv;
            for (int p = 0; p < m.computed; p++) {
                int slot = t.get(p / blockSize) * blockSize + p % blockSize;
                if (kv[slot] != m.kv[p]) {
                    fail("sequence " + m.id + " reads wrong KV at position " + p + " (slot " + slot
                            + (manager.isSwappedOut(m.id) ? ", swapped out)" : ")"));
                }
            }
        }
    }

    /** Everything observable about the manager (and one sequence), to prove a failed operation changed nothing. */
    private String snapshot(long seqId) {
        StringBuilder sb = new StringBuilder();
        sb.append(manager.numFreeBlocks()).append('/').append(manager.numCachedBlocks()).append('/')
                .append(manager.numUsedBlocks()).append('/').append(manager.numFreeCpuBlocks()).append('/')
                .append(manager.numSequences()).append('/').append(manager.evictions()).append('/')
                .append(manager.copyOnWriteCopies()).append('/').append(manager.prefixQueryTokens()).append('/')
                .append(manager.prefixHitTokens()).append('/').append(manager.offloadStores()).append('/')
                .append(manager.numOffloadedBlocks()).append(' ')
                .append(Arrays.toString(manager.gpuPool().freeQueue()));
        if (seqId >= 0) {
            sb.append(' ').append(manager.numTokens(seqId)).append(' ')
                    .append(manager.blockTable(seqId)).append(' ').append(manager.isSwappedOut(seqId));
        }
        return sb.toString();
    }
}
