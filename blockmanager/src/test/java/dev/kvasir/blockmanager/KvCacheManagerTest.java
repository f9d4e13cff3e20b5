package dev.kvasir.blockmanager;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class KvCacheManagerTest {

    private static int[] randomTokens(Random rnd, int n) {
        return IntStream.range(0, n).map(i -> rnd.nextInt(32_000)).toArray();
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = new int[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Prefill as the engine does: the whole uncached part computed in one step. */
    private static int prefill(KvCacheManager m, long id, int[] prompt) {
        int cached = m.allocatePrompt(id, prompt, 0);
        m.markComputed(id, prompt.length);
        return cached;
    }

    @Test
    void twoPromptsWithA1500TokenSystemPromptShareIts93FullBlocks() {
        Random rnd = new Random(1);
        int[] system = randomTokens(rnd, 1_500);
        KvCacheManager m = new KvCacheManager(1_000, 16, 0, 0.0, true);
        int[] first = concat(system, randomTokens(rnd, 40));
        int[] second = concat(system, randomTokens(rnd, 70));

        assertEquals(0, prefill(m, 1, first));
        int cached = prefill(m, 2, second);

        assertEquals(93 * 16, cached, "1,500 tokens hold 93 full blocks");
        BlockTable a = m.blockTable(1);
        BlockTable b = m.blockTable(2);
        for (int i = 0; i < 93; i++) {
            assertEquals(a.get(i), b.get(i), "block " + i + " is shared");
            assertEquals(2, m.gpuPool().refCount(a.get(i)));
        }
        assertNotEquals(a.get(93), b.get(93), "the block straddling the end of the system prompt differs");
        assertEquals(blocks(1_540) + blocks(1_570) - 93, m.numUsedBlocks());
        assertEquals(93 * 16, m.prefixHitTokens());
        assertEquals(1_540 + 1_570, m.prefixQueryTokens());
        m.checkInvariants();
    }

    private static int blocks(int tokens) {
        return (tokens + 15) / 16;
    }

    @Test
    void fourSamplesShareThePromptAndCopyOnlyTheLastPartialBlock() {
        Random rnd = new Random(2);
        int[] prompt = randomTokens(rnd, 100); // 6 full blocks + 4 tokens
        KvCacheManager m = new KvCacheManager(100, 16, 0, 0.0, true);
        prefill(m, 10, prompt);
        for (long child = 11; child <= 13; child++) {
            m.fork(10, child);
        }
        assertEquals(7, m.numUsedBlocks(), "forks share every block");
        int[] before = m.blockTable(10).toArray();

        for (long s = 10; s <= 13; s++) {
            assertNotNull(m.appendTokens(s, (int) s));
        }
        BlockCopies copies = m.drainCopies();
        assertEquals(3, copies.size(), "three samples copy the shared partial block; the last keeps it");
        for (int i = 0; i < copies.size(); i++) {
            assertEquals(before[6], copies.src()[i]);
        }
        assertEquals(3, m.copyOnWriteCopies());
        assertEquals(10, m.numUsedBlocks(), "6 shared full blocks + 4 last blocks");
        for (long s = 10; s <= 13; s++) {
            int[] table = m.blockTable(s).toArray();
            assertArrayEquals(java.util.Arrays.copyOf(before, 6), java.util.Arrays.copyOf(table, 6));
            assertEquals(1, m.gpuPool().refCount(table[6]), "sample " + s + " owns its last block");
        }
        assertTrue(m.drainCopies().isEmpty(), "draining empties the list");
        m.checkInvariants();
    }

    @Test
    void appendingToASharedFullBlockAllocatesWithoutCopy() {
        KvCacheManager m = new KvCacheManager(10, 4, 0, 0.0, false);
        m.allocatePrompt(1, new int[] {1, 2, 3, 4}, 0);
        m.fork(1, 2);
        int[] slots = m.appendTokens(2, 9);
        assertNotNull(slots);
        assertTrue(m.drainCopies().isEmpty());
        assertEquals(m.blockTable(2).get(1) * 4, slots[0]);
        m.checkInvariants();
    }

    @Test
    void slotsAreBlockTimesBlockSizePlusOffset() {
        KvCacheManager m = new KvCacheManager(10, 4, 0, 0.0, false);
        m.allocatePrompt(1, new int[] {1, 2, 3, 4, 5, 6}, 0);
        int[] slots = m.slotMapping(1, 0, 6);
        BlockTable t = m.blockTable(1);
        for (int p = 0; p < 6; p++) {
            assertEquals(t.get(p / 4) * 4 + p % 4, slots[p]);
        }
        int[] buf = new int[8];
        m.slotMapping(1, 2, 5, buf, 1);
        assertArrayEquals(new int[] {0, slots[2], slots[3], slots[4], 0, 0, 0, 0}, buf);
        assertEquals(t.get(1) * 4 + 2, m.appendToken(1, 7));
    }

    @Test
    void theLastPromptTokenIsNeverServedFromTheCache() {
        Random rnd = new Random(3);
        int[] prompt = randomTokens(rnd, 64); // exactly 4 blocks
        KvCacheManager m = new KvCacheManager(20, 16, 0, 0.0, true);
        prefill(m, 1, prompt);
        int cached = prefill(m, 2, prompt);
        assertEquals(48, cached, "the block holding the last token is recomputed");
        m.checkInvariants();
    }

    @Test
    void blocksAreCachedOnlyOnceComputed() {
        Random rnd = new Random(4);
        int[] prompt = randomTokens(rnd, 40);
        KvCacheManager m = new KvCacheManager(20, 16, 0, 0.0, true);
        m.allocatePrompt(1, prompt, 0);
        assertEquals(0, m.allocatePrompt(2, prompt, 0), "nothing computed yet, nothing to reuse");
        m.markComputed(1, 20); // chunked prefill: one full block done
        assertEquals(16, m.allocatePrompt(3, prompt, 0));
        m.markComputed(1, 40);
        assertEquals(32, m.allocatePrompt(4, prompt, 0));
        m.checkInvariants();
    }

    @Test
    void decodeBlocksThatFillUpAreCachedAfterMarkComputed() {
        KvCacheManager m = new KvCacheManager(20, 4, 0, 0.0, true);
        m.allocatePrompt(1, new int[] {1, 2, 3}, 0);
        m.markComputed(1, 3);
        m.appendTokens(1, 4);
        m.appendTokens(1, 5);
        assertEquals(0, m.allocatePrompt(2, new int[] {1, 2, 3, 4, 5, 6}, 0), "token 4's KV is not computed yet");
        m.markComputed(1, 5);
        assertEquals(4, m.allocatePrompt(3, new int[] {1, 2, 3, 4, 5, 6}, 0));
        assertEquals(m.blockTable(1).get(0), m.blockTable(3).get(0));
        m.checkInvariants();
    }

    @Test
    void extraKeySeparatesOtherwiseEqualPrefixes() {
        Random rnd = new Random(5);
        int[] prompt = randomTokens(rnd, 50);
        KvCacheManager m = new KvCacheManager(20, 16, 0, 0.0, true);
        m.allocatePrompt(1, prompt, 7);
        m.markComputed(1, 50);
        assertEquals(0, m.allocatePrompt(2, prompt, 8), "another adapter or tenant");
        assertEquals(48, m.allocatePrompt(3, prompt, 7));
        m.checkInvariants();
    }

    @Test
    void freedPrefixStaysCachedUntilItsBlocksAreReallocated() {
        Random rnd = new Random(6);
        int[] prompt = randomTokens(rnd, 33);
        KvCacheManager m = new KvCacheManager(4, 16, 0, 0.0, true);
        prefill(m, 1, prompt);
        m.free(1);
        assertEquals(2, m.numCachedBlocks());
        assertEquals(4, m.numFreeBlocks());
        assertEquals(32, m.allocatePrompt(2, prompt, 0), "hit after free");
        m.free(2);
        // A 64-token prompt of other tokens needs all four blocks: both cached ones are evicted.
        assertEquals(0, prefill(m, 3, randomTokens(rnd, 64)));
        assertEquals(2, m.evictions());
        assertEquals(0, m.numCachedBlocks());
        m.free(3);
        assertEquals(0, m.allocatePrompt(4, prompt, 0));
        m.checkInvariants();
    }

    @Test
    void watermarkReservesBlocksForRunningSequences() {
        KvCacheManager m = new KvCacheManager(10, 16, 0, 0.2, false);
        assertEquals(2, m.watermarkBlocks());
        int[] eightBlocks = new int[128];
        int[] nineBlocks = new int[129];
        assertTrue(m.canAllocatePrompt(eightBlocks, 0));
        assertFalse(m.canAllocatePrompt(nineBlocks, 0), "would dip into the reserve");
        assertEquals(0, m.allocatePrompt(1, nineBlocks, 0), "allocation itself ignores the reserve");
        assertTrue(m.canAppend(1, 16));
    }

    @Test
    void failedAllocationChangesNothing() {
        Random rnd = new Random(7);
        KvCacheManager m = new KvCacheManager(5, 16, 0, 0.0, true);
        int[] prompt = randomTokens(rnd, 40);
        prefill(m, 1, prompt);
        m.free(1);
        int[] queue = m.gpuPool().freeQueue();
        assertEquals(-1, m.allocatePrompt(2, concat(prompt, randomTokens(rnd, 60)), 0));
        assertFalse(m.contains(2));
        assertArrayEquals(queue, m.gpuPool().freeQueue());
        assertEquals(2, m.numCachedBlocks());
        assertEquals(40, m.prefixQueryTokens(), "a failed allocation is not a query");

        prefill(m, 3, randomTokens(rnd, 80));
        assertEquals(0, m.numFreeBlocks());
        int[] table = m.blockTable(3).toArray();
        assertFalse(m.canAppend(3, 1));
        assertNull(m.appendTokens(3, 1));
        assertEquals(-1, m.appendToken(3, 1));
        assertEquals(80, m.numTokens(3));
        assertArrayEquals(table, m.blockTable(3).toArray());
        m.checkInvariants();
    }

    @Test
    void swapOutAndInMovesTheSequenceAndItsBlocks() {
        Random rnd = new Random(8);
        int[] prompt = randomTokens(rnd, 40);
        KvCacheManager m = new KvCacheManager(6, 16, 4, 0.0, true);
        prefill(m, 1, prompt);
        int[] gpuTable = m.blockTable(1).toArray();
        SwapPlan out = m.swapOut(1);
        assertArrayEquals(gpuTable, out.src());
        assertArrayEquals(out.dst(), m.blockTable(1).toArray());
        assertTrue(m.isSwappedOut(1));
        assertEquals(0, m.numUsedBlocks());
        assertEquals(1, m.numFreeCpuBlocks());
        assertThrows(IllegalStateException.class, () -> m.appendTokens(1, 5));
        assertThrows(IllegalStateException.class, () -> m.slotMapping(1, 0, 1));

        prefill(m, 2, randomTokens(rnd, 64));
        assertFalse(m.canSwapIn(1));
        assertNull(m.swapIn(1), "3 blocks do not fit in 2");
        assertTrue(m.isSwappedOut(1));
        m.free(2);
        assertTrue(m.canSwapIn(1));
        SwapPlan in = m.swapIn(1);
        assertArrayEquals(out.dst(), in.src());
        assertArrayEquals(in.dst(), m.blockTable(1).toArray());
        assertEquals(4, m.numFreeCpuBlocks());
        m.markComputed(1, 40);
        assertEquals(32, m.allocatePrompt(3, prompt, 0), "swapped-in blocks re-enter the cache once computed");
        m.checkInvariants();
    }

    @Test
    void swapOutFailsWithoutRoomAndChangesNothing() {
        KvCacheManager m = new KvCacheManager(6, 16, 2, 0.0, false);
        m.allocatePrompt(1, new int[40], 0);
        int[] table = m.blockTable(1).toArray();
        assertNull(m.swapOut(1));
        assertFalse(m.isSwappedOut(1));
        assertArrayEquals(table, m.blockTable(1).toArray());
        assertEquals(2, m.numFreeCpuBlocks());
        m.checkInvariants();
    }

    @Test
    void misuseThrowsClearlyAndChangesNothing() {
        assertThrows(IllegalArgumentException.class, () -> new KvCacheManager(10, 24, 0, 0.0, true));
        assertThrows(IllegalArgumentException.class, () -> new KvCacheManager(10, 16, -1, 0.0, true));
        assertThrows(IllegalArgumentException.class, () -> new KvCacheManager(10, 16, 0, 1.0, true));
        KvCacheManager m = new KvCacheManager(10, 16, 4, 0.0, true);
        m.allocatePrompt(1, new int[20], 0);
        m.free(1);
        IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> m.free(1));
        assertTrue(twice.getMessage().contains("unknown sequence 1"), twice.getMessage());
        assertThrows(IllegalArgumentException.class, () -> m.appendTokens(99, 1));
        assertThrows(IllegalArgumentException.class, () -> m.blockTable(99));
        m.allocatePrompt(2, new int[20], 0);
        int[] table = m.blockTable(2).toArray();
        assertThrows(IllegalStateException.class, () -> m.allocatePrompt(2, new int[5], 0), "duplicate id");
        assertThrows(IllegalStateException.class, () -> m.fork(2, 2), "fork onto a live id");
        assertThrows(IllegalArgumentException.class, () -> m.allocatePrompt(3, new int[0], 0));
        assertThrows(IllegalArgumentException.class, () -> m.markComputed(2, -1));
        assertThrows(IllegalArgumentException.class, () -> m.markComputed(2, 21));
        assertThrows(IllegalArgumentException.class, () -> m.canAppend(2, -1));
        assertThrows(IllegalArgumentException.class, () -> m.slotMapping(2, 5, 21));
        assertThrows(IllegalArgumentException.class, () -> m.slotMapping(2, -1, 3));
        assertThrows(IllegalStateException.class, () -> m.swapIn(2), "not swapped out");
        assertArrayEquals(table, m.blockTable(2).toArray());
        assertEquals(20, m.numTokens(2));
        assertEquals(2, m.numUsedBlocks());
        assertFalse(m.contains(3));
        m.checkInvariants();
    }

    @Test
    void statsAddUp() {
        KvCacheManager m = new KvCacheManager(8, 16, 0, 0.0, true);
        Random rnd = new Random(9);
        int[] prompt = randomTokens(rnd, 40);
        prefill(m, 1, prompt);
        assertEquals(3, m.numUsedBlocks());
        assertEquals(5, m.numFreeBlocks());
        assertEquals(8, m.numTotalBlocks());
        assertEquals(3.0 / 8, m.usage(), 1e-12);
        prefill(m, 2, prompt);
        assertEquals(32.0 / 80, m.prefixHitRate(), 1e-12);
        m.free(1);
        m.free(2);
        assertEquals(0.0, m.usage());
        assertEquals(2, m.numCachedBlocks());
        assertEquals(8, m.numFreeBlocks());
        m.checkInvariants();
    }

    @Test
    void freeingEverythingLeavesNoLeaks() {
        Random rnd = new Random(10);
        KvCacheManager m = new KvCacheManager(64, 16, 16, 0.0, true);
        int[] shared = randomTokens(rnd, 100);
        for (long s = 0; s < 6; s++) {
            prefill(m, s, concat(shared, randomTokens(rnd, 10 + (int) s)));
        }
        m.fork(0, 100);
        m.appendTokens(100, 1, 2, 3);
        assertNotNull(m.swapOut(3));
        for (long s : new long[] {0, 1, 2, 3, 4, 5, 100}) {
            m.free(s);
        }
        assertEquals(0, m.numUsedBlocks());
        assertEquals(64, m.numFreeBlocks());
        assertEquals(16, m.numFreeCpuBlocks());
        assertEquals(0, m.numSequences());
        m.checkInvariants();
    }

    @Test
    void aSessionsPrefixOutlivesPlainLruTraffic() {
        Random rnd = new Random(21);
        int[] session = randomTokens(rnd, 65); // 4 full blocks cached
        for (BlockPool.Retention retention : new BlockPool.Retention[] {BlockPool.Retention.NORMAL, BlockPool.Retention.SESSION}) {
            KvCacheManager m = new KvCacheManager(12, 16, 0, 0.0, true);
            prefill(m, 1, session);
            m.free(1, retention, false);
            // Ten one-off prompts of 3 blocks each churn through the pool, freed as plain LRU.
            for (int i = 0; i < 10; i++) {
                prefill(m, 10 + i, randomTokens(rnd, 40));
                m.free(10 + i);
            }
            boolean kept = retention == BlockPool.Retention.SESSION;
            assertEquals(kept ? 4 : 0, m.numRetainedBlocks(BlockPool.Retention.SESSION), "the session's full blocks wait apart");
            int hit = m.allocatePrompt(2, session, 0);
            if (kept) {
                assertEquals(64, hit, "the session's prefix was kept");
            } else {
                assertEquals(0, hit, "plain LRU evicted it");
            }
            m.checkInvariants();
        }
    }

    @Test
    void sharedPrefixBlocksAreKeptLikeASessionsWhenAsked() {
        Random rnd = new Random(22);
        int[] system = randomTokens(rnd, 32);
        int[] a = Arrays.copyOf(system, 40), b = Arrays.copyOf(system, 45);
        KvCacheManager m = new KvCacheManager(16, 16, 0, 0.0, true);
        prefill(m, 1, a);
        m.free(1);
        assertEquals(32, prefill(m, 2, b), "the second request hits the shared system prompt");
        m.free(2, BlockPool.Retention.NORMAL, true);
        assertEquals(2, m.numRetainedBlocks(BlockPool.Retention.SESSION), "the two hit blocks are kept longer");
        m.checkInvariants();
    }

    @Test
    void anEvictedPrefixComesBackFromTheHostTierByCopy() {
        Random rnd = new Random(23);
        int[] prompt = randomTokens(rnd, 40); // 2 full blocks
        KvCacheManager m = new KvCacheManager(4, 16, 0, 8, 0.0, true);
        prefill(m, 1, prompt);
        m.free(1);
        // A 64-token prompt needs all four device blocks: both cached blocks are evicted to the host.
        assertEquals(0, prefill(m, 2, randomTokens(rnd, 64)));
        OffloadCopies stores = m.drainOffloads();
        assertEquals(2, stores.storeSrc().length);
        assertEquals(2, m.numOffloadedBlocks());
        assertEquals(0, m.numCachedBlocks());
        m.free(2);
        int cached = m.allocatePrompt(3, prompt, 0);
        assertEquals(32, cached, "both blocks are found on the host");
        OffloadCopies loads = m.drainOffloads();
        // Stored in eviction order (a freed sequence's last block is evicted first), loaded in prefix order.
        assertArrayEquals(new int[] {stores.storeDst()[1], stores.storeDst()[0]}, loads.loadSrc(), "loaded from where they were stored");
        assertArrayEquals(Arrays.copyOf(m.blockTable(3).toArray(), 2), loads.loadDst(), "into the sequence's first blocks");
        assertEquals(32, m.offloadHitTokens());
        // Once loaded they are device blocks again: the next request hits them there.
        m.markComputed(3, 40);
        m.free(3);
        assertEquals(32, m.allocatePrompt(4, prompt, 0));
        assertTrue(m.drainOffloads().isEmpty(), "a device hit needs no copy");
        m.checkInvariants();
    }

    @Test
    void theHostTierNeedsPrefixCaching() {
        assertThrows(IllegalArgumentException.class, () -> new KvCacheManager(4, 16, 0, 8, 0.0, false));
    }
}
