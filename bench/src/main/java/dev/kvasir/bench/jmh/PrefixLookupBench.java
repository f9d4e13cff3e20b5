package dev.kvasir.bench.jmh;

import dev.kvasir.blockmanager.KvCacheManager;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A 2,048-token prompt whose first 2,032 tokens (127 full blocks) are cached: the admission check
 * (hash chain + verified lookups, no state change) and a full hit allocation followed by its free.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseParallelGC"})
public class PrefixLookupBench {

    private KvCacheManager manager;
    private int[] prompt;
    private long nextId = 1;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(7);
        prompt = new int[2_048];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = rnd.nextInt(32_000);
        }
        manager = new KvCacheManager(4_096, 16, 0, 0.0, true);
        manager.allocatePrompt(0, prompt, 0);
        manager.markComputed(0, prompt.length);
    }

    @Benchmark
    public boolean lookup() {
        return manager.canAllocatePrompt(prompt, 0);
    }

    @Benchmark
    public int allocateHitAndFree() {
        long id = nextId++;
        int cached = manager.allocatePrompt(id, prompt, 0);
        manager.free(id);
        return cached;
    }
}
