package dev.kvasir.bench;

import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;
import java.util.Map;

/** Entry point of {@code scripts/bench NAME [args]}: runs one benchmark's own main. */
public final class BenchMain {

    /** Name to class, in the order {@code scripts/bench} lists them. */
    private static final Map<String, String> BENCHMARKS = new java.util.LinkedHashMap<>();

    static {
        BENCHMARKS.put("kv-memory", "dev.kvasir.bench.kvmemory.KvMemoryBench");
        BENCHMARKS.put("decode", "dev.kvasir.bench.decode.DecodeBench");
        BENCHMARKS.put("serve", "dev.kvasir.bench.serve.ServeBench");
        BENCHMARKS.put("soak", "dev.kvasir.bench.soak.SoakBench");
        BENCHMARKS.put("memory-search", "dev.kvasir.bench.memory.MemorySearchBench");
        BENCHMARKS.put("constraint", "dev.kvasir.bench.constraint.ConstraintBench");
        BENCHMARKS.put("console", "dev.kvasir.bench.console.ConsoleBench");
        BENCHMARKS.put("agent-sessions", "dev.kvasir.bench.agents.AgentSessionsBench");
    }

    private BenchMain() {}

    public static void main(String[] args) throws Throwable {
        String className = args.length == 0 ? null : BENCHMARKS.get(args[0]);
        if (className == null) {
            System.err.println("usage: scripts/bench " + String.join("|", BENCHMARKS.keySet()) + "|jmh [args]");
            System.exit(2);
        }
        try {
            Class.forName(className).getMethod("main", String[].class)
                    .invoke(null, (Object) Arrays.copyOfRange(args, 1, args.length));
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
