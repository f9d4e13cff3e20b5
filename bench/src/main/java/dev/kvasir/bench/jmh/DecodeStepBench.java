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
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One decode step's block-manager work for a running batch: for every sequence, mark the previous
 * token's KV computed (full blocks enter the prefix cache) and append the sampled token, collecting the
 * slot mapping the kernels write to. Sequences that reach {@code MAX_LEN} finish and a new request takes
 * their place, so the batch stays in steady state. Target: under 100 µs for 1,024 sequences.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-XX:+UseParallelGC"})
public class DecodeStepBench {

    private static final int BLOCK_SIZE = 16;
    private static final int MAX_LEN = 2_048;

    @Param({"256", "1024"})
    public int numSeqs;

    private KvCacheManager manager;
    private long[] ids;
    /** The engine tracks each sequence's length itself; the manager is asked only for slots. */
    private int[] lengths;
    private int[] slots;
    private int[][] prompts;
    private long nextId;
    private int step;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom rnd = new SplittableRandom(42);
        int blocks = numSeqs * (MAX_LEN / BLOCK_SIZE + 1);
        manager = new KvCacheManager(blocks, BLOCK_SIZE, 0, 0.0, true);
        prompts = new int[16][];
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = new int[64 + rnd.nextInt(960)];
            for (int j = 0; j < prompts[i].length; j++) {
                prompts[i][j] = rnd.nextInt(32_000);
            }
        }
        ids = new long[numSeqs];
        lengths = new int[numSeqs];
        slots = new int[numSeqs];
        for (int s = 0; s < numSeqs; s++) {
            ids[s] = admit();
            // Stagger lengths so that finishing (and block boundaries) spread over steps.
            int extra = rnd.nextInt(MAX_LEN - prompts[s % prompts.length].length);
            for (int t = 0; t < extra; t++) {
                manager.appendToken(ids[s], t);
            }
            lengths[s] = manager.numTokens(ids[s]);
            manager.markComputed(ids[s], lengths[s]);
        }
    }

    private long admit() {
        long id = nextId++;
        int[] prompt = prompts[(int) (id % prompts.length)];
        manager.allocatePrompt(id, prompt, 0);
        manager.markComputed(id, prompt.length);
        return id;
    }

    @Benchmark
    public int[] decodeStep() {
        int token = step++ & 0x7fff;
        for (int s = 0; s < numSeqs; s++) {
            long id = ids[s];
            int n = lengths[s];
            if (n >= MAX_LEN) {
                manager.free(id);
                id = admit();
                ids[s] = id;
                n = manager.numTokens(id);
            }
            manager.markComputed(id, n);
            slots[s] = manager.appendToken(id, token);
            lengths[s] = n + 1;
        }
        return slots;
    }
}
