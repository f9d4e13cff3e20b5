package dev.kvasir.bench.jmh;

import dev.kvasir.blockmanager.BlockPool;
import dev.kvasir.blockmanager.KvCacheManager;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Block alloc/free pairs (target: at least 10 M pairs/s): single pairs on the pool, a sequence's worth
 * of blocks (64) allocated then freed last-first, and a whole 256-token sequence through the manager.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseParallelGC"})
public class AllocFreeBench {

    private static final int BATCH = 64;

    private BlockPool pool;
    private int[] held;
    private KvCacheManager manager;
    private int[] prompt;
    private long nextId;

    @Setup(Level.Trial)
    public void setUp() {
        pool = new BlockPool(8_192, 16);
        held = new int[BATCH];
        manager = new KvCacheManager(8_192, 16, 0, 0.0, false);
        prompt = new int[256];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = i;
        }
    }

    @Benchmark
    public int blockPair() {
        int b = pool.allocate();
        pool.release(b);
        return b;
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public int blockBatchPairs() {
        for (int i = 0; i < BATCH; i++) {
            held[i] = pool.allocate();
        }
        for (int i = BATCH - 1; i >= 0; i--) {
            pool.release(held[i]);
        }
        return held[0];
    }

    @Benchmark
    public int sequencePair() {
        long id = nextId++;
        int cached = manager.allocatePrompt(id, prompt, 0);
        manager.free(id);
        return cached;
    }
}
