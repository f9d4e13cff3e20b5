package dev.kvasir.kernels;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryPlanTest {

    private static final long GIB = 1L << 30;

    @Test
    void kvGetsWhatIsLeftOfTheBudget() {
        // 80 GiB x 0.9 = 72; less 1 used by others, 16 of weights, 3 of workspace: 52 GiB of KV.
        long perBlock = 2L * 32 * 16 * 8 * 128 * 2; // Llama 3 8B, f16: 2 MiB a block
        MemoryPlan plan = new MemoryPlan(80 * GIB, GIB, 16 * GIB, 3 * GIB, 0.9, perBlock, 16);
        assertEquals(52 * GIB, plan.kvBytes());
        assertEquals(52 * GIB / perBlock, plan.numBlocks());
        assertEquals(plan.numBlocks() * 16L, plan.numTokens());
        assertTrue(plan.toString().contains(plan.numBlocks() + " blocks of 16 tokens"), plan.toString());
    }

    @Test
    void tooLittleMemoryFailsAtStartUpWithTheNumbers() {
        MemoryPlan plan = new MemoryPlan(24 * GIB, 0, 20 * GIB, 2 * GIB, 0.9, 2L << 20, 16);
        assertEquals(0, plan.numBlocks());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> plan.requireBlocks(8));
        assertTrue(e.getMessage().contains("--gpu-memory-utilization"), e.getMessage());
    }

    @Test
    void utilizationMustBeAFraction() {
        assertThrows(IllegalArgumentException.class, () -> new MemoryPlan(GIB, 0, 0, 0, 1.5, 1024, 16));
        assertThrows(IllegalArgumentException.class, () -> new MemoryPlan(GIB, 0, 0, 0, 0, 1024, 16));
    }
}
