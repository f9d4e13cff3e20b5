package dev.kvasir.blockmanager;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BlockPoolTest {

    private static final int[] TOKENS_A = {1, 2, 3, 4};
    private static final int[] TOKENS_B = {1, 2, 3, 5};

    @Test
    void neverUsedBlocksComeOutInIdOrder() {
        BlockPool pool = new BlockPool(4, 4);
        assertEquals(0, pool.allocate());
        assertEquals(1, pool.allocate());
        assertEquals(2, pool.allocate());
        assertEquals(3, pool.allocate());
        assertEquals(-1, pool.allocate(), "an empty pool answers -1");
        assertEquals(0, pool.numFree());
        pool.checkInvariants();
    }

    @Test
    void freedUnhashedBlocksAreReusedFirstAndCachedOnesLast() {
        BlockPool pool = new BlockPool(6, 4);
        int a = pool.allocate();
        int b = pool.allocate();
        int c = pool.allocate();
        pool.register(a, 11, 12, 0, 0, TOKENS_A, 0);
        // A sequence [a, b, c] is freed last block first.
        pool.release(c);
        pool.release(b);
        pool.release(a);
        assertArrayEquals(new int[] {b, c, 3, 4, 5, a}, pool.freeQueue(),
                "unhashed blocks go to the head, the cached block to the tail");
        assertEquals(1, pool.numCachedFree());
        pool.checkInvariants();
    }

    @Test
    void allocatingACachedBlockEvictsItsHash() {
        BlockPool pool = new BlockPool(1, 4);
        int a = pool.allocate();
        pool.register(a, 7, 8, 0, 0, TOKENS_A, 0);
        pool.release(a);
        assertEquals(a, pool.lookup(7, 8, 0, 0, TOKENS_A, 0));
        assertEquals(a, pool.allocate());
        assertEquals(1, pool.evictions());
        assertFalse(pool.isCached(a));
        assertEquals(-1, pool.lookup(7, 8, 0, 0, TOKENS_A, 0));
        pool.checkInvariants();
    }

    @Test
    void retainPullsACachedBlockOutOfTheMiddleOfTheQueue() {
        BlockPool pool = new BlockPool(5, 4);
        int[] ids = new int[5];
        for (int i = 0; i < 5; i++) {
            ids[i] = pool.allocate();
            pool.register(ids[i], 100 + i, i, 0, 0, TOKENS_A, 0);
        }
        for (int i = 4; i >= 0; i--) {
            pool.release(ids[i]);
        }
        pool.retain(ids[2]);
        assertEquals(4, pool.numFree());
        assertEquals(1, pool.refCount(ids[2]));
        assertArrayEquals(new int[] {ids[4], ids[3], ids[1], ids[0]}, pool.freeQueue());
        pool.checkInvariants();
    }

    @Test
    void hashCollisionWithOtherTokensIsAMiss() {
        BlockPool pool = new BlockPool(2, 4);
        int a = pool.allocate();
        pool.register(a, 42, 43, 0, 0, TOKENS_A, 0);
        assertEquals(-1, pool.lookup(42, 43, 0, 0, TOKENS_B, 0), "same hash, other tokens");
        assertEquals(-1, pool.lookup(42, 43, 0, 99, TOKENS_A, 0), "same hash and tokens, other prefix");
        assertEquals(-1, pool.lookup(42, 43, 5, 0, TOKENS_A, 0), "same hash and tokens, other extra key");
        assertEquals(a, pool.lookup(42, 43, 0, 0, TOKENS_A, 0));
    }

    @Test
    void equalContentSharesAPrefixIdAndCollidingContentDoesNot() {
        BlockPool pool = new BlockPool(3, 4);
        int a = pool.allocate();
        int b = pool.allocate();
        int c = pool.allocate();
        long ida = pool.register(a, 42, 43, 0, 0, TOKENS_A, 0);
        long idb = pool.register(b, 42, 43, 0, 0, TOKENS_A, 0);
        long idc = pool.register(c, 42, 43, 0, 0, TOKENS_B, 0);
        assertEquals(ida, idb, "a duplicate names the same prefix");
        assertNotEquals(ida, idc, "a collision names a different prefix");
        assertEquals(c, pool.lookup(42, 43, 0, 0, TOKENS_B, 0));
        pool.checkInvariants();
    }

    @Test
    void misuseThrowsAndChangesNothing() {
        assertThrows(IllegalArgumentException.class, () -> new BlockPool(4, 12));
        assertThrows(IllegalArgumentException.class, () -> new BlockPool(4, 0));
        assertThrows(IllegalArgumentException.class, () -> new BlockPool(-1, 16));
        BlockPool pool = new BlockPool(2, 4);
        int a = pool.allocate();
        pool.release(a);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.release(a));
        assertTrue(e.getMessage().contains("block " + a), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> pool.release(7));
        assertThrows(IllegalStateException.class, () -> pool.register(a, 1, 2, 0, 0, TOKENS_A, 0),
                "registering a free block");
        assertEquals(2, pool.numFree());
        pool.checkInvariants();
    }

    @Test
    void allocFreePairsReturnThePoolToAllFree() {
        BlockPool pool = new BlockPool(8, 16);
        for (int i = 0; i < 10_000; i++) {
            int b = pool.allocate();
            pool.release(b);
        }
        assertEquals(8, pool.numFree());
        assertEquals(0, pool.numUsed());
        pool.checkInvariants();
    }

    @Test
    void retentionClassesAreEvictedLowestFirstAndPinsCanBeDemoted() {
        BlockPool pool = new BlockPool(4, 4);
        int pinned = pool.allocate(), session = pool.allocate(), normal = pool.allocate(), plain = pool.allocate();
        pool.register(pinned, 1, 1, 0, 0, TOKENS_A, 0);
        pool.register(session, 2, 2, 0, 0, TOKENS_A, 0);
        pool.register(normal, 3, 3, 0, 0, TOKENS_A, 0);
        pool.release(pinned, BlockPool.Retention.PINNED);
        pool.release(session, BlockPool.Retention.SESSION);
        pool.release(normal, BlockPool.Retention.NORMAL);
        pool.release(plain, BlockPool.Retention.PINNED); // an uncached block holds nothing to keep: reused first
        pool.checkInvariants();
        assertArrayEquals(new int[] {plain, normal, session, pinned}, pool.freeQueue());
        assertEquals(1, pool.numFree(BlockPool.Retention.SESSION));
        assertEquals(plain, pool.allocate());
        assertEquals(normal, pool.allocate(), "plain LRU blocks go before a session's");
        assertEquals(session, pool.nextToAllocate(), "then the session's, while a pinned block waits");
        assertEquals(1, pool.demote(BlockPool.Retention.PINNED, BlockPool.Retention.SESSION));
        assertArrayEquals(new int[] {session, pinned}, pool.freeQueue(), "an expired pin queues behind the session block");
        assertEquals(0, pool.numFree(BlockPool.Retention.PINNED));
        pool.checkInvariants();
    }

    @Test
    void hitsAreCountedUntilTheBlockLeavesTheCache() {
        BlockPool pool = new BlockPool(2, 4);
        int a = pool.allocate();
        pool.register(a, 5, 6, 0, 0, TOKENS_A, 0);
        pool.release(a);
        pool.retainHit(a);
        pool.release(a);
        pool.retainHit(a);
        assertEquals(2, pool.hits(a));
        pool.release(a);
        pool.allocate(); // the never-used block
        assertEquals(a, pool.allocate(), "evicted");
        assertEquals(0, pool.hits(a));
        pool.checkInvariants();
    }

    @Test
    void aSecondPoolCanNameAPrefixWithTheFirstPoolsId() {
        BlockPool device = new BlockPool(2, 4), host = new BlockPool(2, 4);
        int d = device.allocate();
        long id = device.register(d, 9, 9, 0, 0, TOKENS_A, 0);
        int h = host.allocate();
        assertEquals(id, host.register(h, 9, 9, 0, 0, TOKENS_A, 0, id));
        int h2 = host.allocate();
        assertEquals(id, host.register(h2, 9, 9, 0, 0, TOKENS_A, 0, 77), "an equal cached block's id wins");
        host.checkInvariants();
    }
}
