package dev.kvasir.bench.jmh;

import dev.kvasir.blockmanager.BlockCopies;
import dev.kvasir.blockmanager.KvCacheManager;
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
 * n = 4 sampling on a 1,000-token prompt (62 full blocks + a partial one): fork three children, each
 * appends its first token (a copy-on-write of the partial block), the copies are drained, the children
 * freed. Per invocation: 3 forks, 3 CoW appends, 1 drain, 3 frees.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseParallelGC"})
public class ForkCowBench {

    private KvCacheManager manager;

    @Setup(Level.Trial)
    public void setUp() {
        int[] prompt = new int[1_000];
        for (int i = 0; i < prompt.length; i++) {
            prompt[i] = i * 31 + 7;
        }
        manager = new KvCacheManager(1_024, 16, 0, 0.0, true);
        manager.allocatePrompt(0, prompt, 0);
        manager.markComputed(0, prompt.length);
    }

    @Benchmark
    public BlockCopies forkCowFree() {
        for (long child = 1; child <= 3; child++) {
            manager.fork(0, child);
            manager.appendToken(child, (int) child);
        }
        BlockCopies copies = manager.drainCopies();
        for (long child = 1; child <= 3; child++) {
            manager.free(child);
        }
        return copies;
    }
}
