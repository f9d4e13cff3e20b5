package dev.kvasir.blockmanager;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The block map the console draws: each state where the block manager's own counters say it is. */
class BlockStatesTest {

    private static int[] tokens(int from, int n) {
        return IntStream.range(from, from + n).toArray();
    }

    private static int count(byte[] states, int from, int to, byte state) {
        int n = 0;
        for (int i = from; i < to; i++) if (states[i] == state) n++;
        return n;
    }

    @Test
    void usedSharedCachedAndSwappedBlocksAreReportedWhereTheyAre() {
        KvCacheManager m = new KvCacheManager(16, 16, 8, 0.0, true);
        byte[] states = new byte[24];
        m.blockStates(states);
        assertArrayEquals(new byte[24], states, "a fresh pool is all free");

        int[] prompt = tokens(100, 40); // 2 full blocks and a partial one
        m.allocatePrompt(1, prompt, 0);
        m.markComputed(1, prompt.length);
        m.allocatePrompt(2, prompt, 0); // hits the 2 full blocks
        m.markComputed(2, prompt.length);
        m.blockStates(states);
        assertEquals(2, count(states, 0, 16, BlockState.SHARED), "the two full prompt blocks are held by both");
        assertEquals(2, count(states, 0, 16, BlockState.USED), "each sequence's own last block");
        assertEquals(m.numUsedBlocks(), count(states, 0, 16, BlockState.SHARED) + count(states, 0, 16, BlockState.USED));

        m.free(2);
        m.free(1);
        m.blockStates(states);
        assertEquals(2, count(states, 0, 16, BlockState.CACHED), "freed full blocks keep their prefix");
        assertEquals(m.numCachedBlocks(), count(states, 0, 16, BlockState.CACHED));
        assertEquals(14, count(states, 0, 16, BlockState.FREE));

        m.allocatePrompt(3, tokens(500, 20), 0);
        m.markComputed(3, 20);
        assertNotNull(m.swapOut(3));
        m.blockStates(states);
        assertEquals(2, count(states, 16, 24, BlockState.SWAPPED), "the swapped sequence's 2 blocks sit in the CPU pool");
        assertEquals(0, count(states, 0, 16, BlockState.USED) + count(states, 0, 16, BlockState.SHARED));
    }

    @Test
    void aShortArrayIsRefusedNamingBothPools() {
        KvCacheManager m = new KvCacheManager(16, 16, 8, 0.0, true);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.blockStates(new byte[20]));
        assertEquals("block state array of 20 is shorter than the 16 GPU and 8 CPU blocks", e.getMessage());
    }

    @Test
    void everyCodeHasAName() {
        assertEquals("free", BlockState.name(BlockState.FREE));
        assertEquals("cached", BlockState.name(BlockState.CACHED));
        assertEquals("used", BlockState.name(BlockState.USED));
        assertEquals("shared", BlockState.name(BlockState.SHARED));
        assertEquals("swapped", BlockState.name(BlockState.SWAPPED));
        assertEquals(5, BlockState.count());
    }
}
