package dev.kvasir.bench;

import java.lang.reflect.InvocationTargetException;
import java.util.Arrays;
import java.util.Map;

/** Entry point of {@code scripts/bench NAME [args]}: runs one benchmark's own main. */
public final class BenchMain {

    private static final Map<String, String> BENCHMARKS = Map.of(
            "kv-memory", "dev.kvasir.bench.kvmemory.KvMemoryBench",
            "decode", "dev.kvasir.bench.decode.DecodeBench",
            "serve", "dev.kvasir.bench.serve.ServeBench",
            "tp", "dev.kvasir.bench.tp.TensorParallelBench");

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
