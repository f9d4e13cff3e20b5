package dev.kvasir.bench.memory;

import dev.kvasir.memory.MemoryConfig;
import dev.kvasir.memory.MemoryFeatures;
import dev.kvasir.memory.MemoryService;
import dev.kvasir.memory.NewMemory;
import dev.kvasir.memory.RetrievalMode;
import dev.kvasir.memory.SearchRequest;
import dev.kvasir.memory.VectorMode;
import dev.kvasir.memory.search.Embedder;
import dev.kvasir.memory.search.HybridScorer;
import dev.kvasir.memory.search.LexicalAnalyzer;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * {@code scripts/bench memory-search [--sizes 1000,10000,100000] [--searches 500] [--seed 7] [--ttft 200]}:
 * <ol>
 * <li>Recall@10 on the evaluation set ({@link EvalSet}) with the public benchmark's protocol:
 *     every turn written as a memory (content "[date] Speaker: text", metadata turn_id), each
 *     question searched with k = 10, recall = share of evidence turns found. BM25 alone (both
 *     analyzers), embeddings alone, and the hybrid with a few fusion weightings.</li>
 * <li>Search latency, query embedding included, with 1k/10k/100k memories for one user in an
 *     SQLite store: synthetic texts with random unit vectors inserted in batches (embedding 100k
 *     texts would take many minutes and changes nothing in the search's cost). Then each retriever
 *     alone, to show where the time goes.</li>
 * <li>What memory adds to a chat's time to first token ({@link ChatTtftBench}; {@code --ttft 0} skips it).</li>
 * </ol>
 * Prints a report and writes it to bench/results/memory-search-TIMESTAMP.txt.
 */
public final class MemorySearchBench {
    private static final String TENANT = "bench";

    public static void main(String[] args) throws Exception {
        List<Integer> sizes = List.of(1000, 10_000, 100_000);
        int searches = 500;
        long seed = 7;
        int conversations = 10;
        int ttftRounds = 200;
        Path evalStore = null; // reuse an evaluation store written by an earlier run (same seed) instead of embedding again
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--sizes" -> sizes = Arrays.stream(args[++i].split(",")).map(Integer::parseInt).toList();
                case "--searches" -> searches = Integer.parseInt(args[++i]);
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--conversations" -> conversations = Integer.parseInt(args[++i]);
                case "--eval-store" -> evalStore = Path.of(args[++i]);
                case "--ttft" -> ttftRounds = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (--sizes N,N --searches N --seed S --conversations N --eval-store FILE --ttft N)");
            }
        }
        StringBuilder report = new StringBuilder();
        PrintStream out = new PrintStream(System.out, true) {
            @Override
            public void println(String s) {
                super.println(s);
                report.append(s).append('\n');
            }
        };
        out.println("memory-search on " + Runtime.getRuntime().availableProcessors() + " cores, " + System.getProperty("java.version"));
        long t0 = System.nanoTime();
        Embedder embedder = Embedder.shared().join();
        out.println(String.format("embedding model: load + first inference %d ms (waited %d ms here)",
                embedder.loadMillis(), (System.nanoTime() - t0) / 1_000_000));
        Path dir = Files.createTempDirectory("kvasir-memory-bench");
        EvalSet set = EvalSet.generate(seed, conversations, 10, 22);
        recall(set, evalStore != null ? evalStore : dir.resolve("eval.db"), out);
        for (int n : sizes) latency(n, searches, set, dir.resolve("latency-" + n + ".db"), seed, out);
        if (ttftRounds > 0) ChatTtftBench.run(set, dir, ttftRounds, out);
        Path results = Path.of("bench/results");
        Files.createDirectories(results);
        Path file = results.resolve("memory-search-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + ".txt");
        Files.writeString(file, report);
        System.out.println("wrote " + file);
        deleteTree(dir);
    }

    // ---- recall -----------------------------------------------------------------------------------

    private static void recall(EvalSet set, Path db, PrintStream out) {
        out.println(String.format("%nevaluation set: %d conversations, %d turns, %d questions (%d evidence turns)",
                set.conversations().size(), set.turnCount(), set.questionCount(),
                set.conversations().stream().flatMap(c -> c.questions().stream()).mapToInt(q -> q.evidence().size()).sum()));
        MemoryConfig base = MemoryConfig.defaults();
        if (Files.exists(db)) {
            out.println("reusing the evaluation store " + db);
        } else try (MemoryService writer = new MemoryService(open(db), base)) {
            long t0 = System.nanoTime();
            for (EvalSet.Conversation c : set.conversations()) {
                List<NewMemory> turns = new ArrayList<>();
                for (EvalSet.Turn t : c.turns()) turns.add(NewMemory.of(t.content()).withMetadata(Map.of("turn_id", t.id())));
                writer.addAll(TENANT, c.name(), turns, "api");
            }
            double s = (System.nanoTime() - t0) / 1e9;
            out.println(String.format("ingest (embedding included): %.1f s, %.1f ms per turn", s, 1000 * s / set.turnCount()));
        }
        out.println("recall@10 (share of evidence turns in the top 10):");
        row(out, "BM25 (EnglishAnalyzer)", set, db, base, RetrievalMode.LEXICAL);
        row(out, "BM25 (StandardAnalyzer + stop words)", set, db, base.withAnalyzer(LexicalAnalyzer.STANDARD), RetrievalMode.LEXICAL);
        row(out, "dense (all-MiniLM-L6-v2)", set, db, base, RetrievalMode.DENSE);
        HybridScorer d = HybridScorer.DEFAULT;
        row(out, "hybrid, default: " + d.fusion() + " " + d.lexicalWeight() + ":" + d.denseWeight(), set, db, base, RetrievalMode.HYBRID);
        for (double[] w : new double[][] {{0.1, 1}, {0.2, 1}, {0.3, 1}, {0.5, 1}, {0.8, 1}}) {
            row(out, "hybrid, WEIGHTED " + w[0] + ":" + w[1], set, db, base.withScorer(d.withFusion(HybridScorer.Fusion.WEIGHTED, w[0], w[1])), RetrievalMode.HYBRID);
        }
        for (double[] w : new double[][] {{1, 1}, {1, 2}}) {
            row(out, "hybrid, RRF " + w[0] + ":" + w[1], set, db, base.withScorer(d.withFusion(HybridScorer.Fusion.RRF, w[0], w[1])), RetrievalMode.HYBRID);
        }
        row(out, "hybrid, StandardAnalyzer", set, db, base.withAnalyzer(LexicalAnalyzer.STANDARD), RetrievalMode.HYBRID);
        pqRows(set, db, out);
    }

    /**
     * The same questions with {@code --memory-vectors pq}: 48 bytes of codes per memory instead of
     * 1,924, the best candidates re-ranked on their exact vectors. A conversation holds fewer turns
     * than the codebook's training minimum, so the codebook is first trained, as a server's would be
     * by its first large user, on another user holding a different seed's evaluation set; then each
     * conversation's index holds codes only.
     */
    private static void pqRows(EvalSet set, Path db, PrintStream out) {
        MemoryConfig pq = MemoryConfig.defaults().withFeatures(MemoryFeatures.DEFAULTS.withVectors(VectorMode.PQ));
        EvalSet other = EvalSet.generate(1000 + set.conversations().size(), set.conversations().size(), 10, 22);
        try (MemoryService memory = new MemoryService(open(db), pq)) {
            List<NewMemory> turns = new ArrayList<>();
            for (EvalSet.Conversation c : other.conversations()) {
                for (EvalSet.Turn t : c.turns()) turns.add(NewMemory.of(t.content()));
            }
            memory.addAll(TENANT, "pq-codebook-trainer", turns, "api");
            memory.indexedCount(TENANT, "pq-codebook-trainer"); // builds that index: the codebook trains here
            int bytes = memory.vectorBytes(TENANT, set.conversations().getFirst().name()); // builds that index: codes only
            printRecall(out, "dense, pq codes (" + bytes + " bytes a memory)", recall(memory, set, RetrievalMode.DENSE));
            printRecall(out, "hybrid, pq codes (" + bytes + " bytes a memory)", recall(memory, set, RetrievalMode.HYBRID));
            memory.forgetUser(TENANT, "pq-codebook-trainer");
        }
    }

    private static void row(PrintStream out, String label, EvalSet set, Path db, MemoryConfig config, RetrievalMode mode) {
        try (MemoryService reader = new MemoryService(open(db), config)) {
            printRecall(out, label, recall(reader, set, mode));
        }
    }

    /** {found, total}: the evidence turns of every question found in its top 10. */
    private static int[] recall(MemoryService memory, EvalSet set, RetrievalMode mode) {
        int found = 0, total = 0;
        for (EvalSet.Conversation c : set.conversations()) {
            for (EvalSet.Question q : c.questions()) {
                Set<String> top = new HashSet<>();
                memory.search(TENANT, c.name(), SearchRequest.of(q.text(), 10).withMode(mode), null)
                        .hits().forEach(h -> top.add(h.memory().metadata().get("turn_id")));
                for (String e : q.evidence()) {
                    total++;
                    if (top.contains(e)) found++;
                }
            }
        }
        return new int[] {found, total};
    }

    private static void printRecall(PrintStream out, String label, int[] recall) {
        out.println(String.format("  %-44s %5.1f%%  (%d/%d)", label, 100.0 * recall[0] / recall[1], recall[0], recall[1]));
    }

    // ---- latency ----------------------------------------------------------------------------------

    private static void latency(int n, int searches, EvalSet set, Path db, long seed, PrintStream out) {
        Random random = new Random(seed + n);
        List<String> vocabulary = vocabulary(set);
        List<String> queries = set.conversations().stream().flatMap(c -> c.questions().stream()).map(EvalSet.Question::text).toList();
        try (MemoryService memory = new MemoryService(open(db), MemoryConfig.defaults())) {
            long t0 = System.nanoTime();
            for (int done = 0; done < n; ) {
                int batch = Math.min(5000, n - done);
                List<NewMemory> items = new ArrayList<>(batch);
                List<float[]> vectors = new ArrayList<>(batch);
                for (int i = 0; i < batch; i++) {
                    items.add(NewMemory.of(sentence(random, vocabulary)).withMetadata(Map.of("turn_id", "S" + (done + i))));
                    vectors.add(randomUnit(random));
                }
                memory.addPrecomputed(TENANT, "heavy", items, vectors);
                done += batch;
            }
            double insertS = (System.nanoTime() - t0) / 1e9;
            long t1 = System.nanoTime();
            int indexed = memory.indexedCount(TENANT, "heavy");
            double buildS = (System.nanoTime() - t1) / 1e9;
            Embedder embedder = Embedder.shared().join();
            // The bulk load just filled the heap: let the collector promote and settle it now, so the
            // searches below pay the pauses a long-running server's searches pay, not this one-off.
            System.gc();
            long[] embedOnly = new long[Math.min(200, searches)];
            for (int i = 0; i < 50; i++) memory.search(TENANT, "heavy", SearchRequest.of(queries.get(i % queries.size()), 10), null);
            for (int i = 0; i < embedOnly.length; i++) {
                long s = System.nanoTime();
                embedder.embed(queries.get(i % queries.size()));
                embedOnly[i] = System.nanoTime() - s;
            }
            long[] times = new long[searches];
            for (int i = 0; i < searches; i++) {
                String q = queries.get((i * 7) % queries.size());
                long s = System.nanoTime();
                memory.search(TENANT, "heavy", SearchRequest.of(q, 10), null);
                times[i] = System.nanoTime() - s;
            }
            // Where the time goes: each retriever alone, over the same queries (dense includes the embedding).
            long[] lexicalOnly = new long[Math.min(500, searches)];
            long[] denseOnly = new long[lexicalOnly.length];
            for (int i = 0; i < lexicalOnly.length; i++) {
                String q = queries.get((i * 7) % queries.size());
                long s = System.nanoTime();
                memory.search(TENANT, "heavy", SearchRequest.of(q, 10).withMode(RetrievalMode.LEXICAL), null);
                lexicalOnly[i] = System.nanoTime() - s;
                s = System.nanoTime();
                memory.search(TENANT, "heavy", SearchRequest.of(q, 10).withMode(RetrievalMode.DENSE), null);
                denseOnly[i] = System.nanoTime() - s;
            }
            Arrays.sort(times);
            Arrays.sort(embedOnly);
            Arrays.sort(lexicalOnly);
            Arrays.sort(denseOnly);
            out.println(String.format("%n%,d memories (one user, SQLite): insert %.1f s, index build on first search %.2f s (%d indexed)",
                    n, insertS, buildS, indexed));
            out.println(String.format("  hybrid search k=10, query embedding included, %d searches: p50 %.2f ms, p99 %.2f ms, max %.2f ms"
                    + " (query embedding alone: p50 %.2f ms, p99 %.2f ms)", searches, ms(times, 0.50), ms(times, 0.99),
                    times[times.length - 1] / 1e6, ms(embedOnly, 0.50), ms(embedOnly, 0.99)));
            out.println(String.format("  one retriever alone, %d searches each: BM25 p50 %.2f ms, p99 %.2f ms; dense (embedding included)"
                    + " p50 %.2f ms, p99 %.2f ms", lexicalOnly.length, ms(lexicalOnly, 0.50), ms(lexicalOnly, 0.99),
                    ms(denseOnly, 0.50), ms(denseOnly, 0.99)));
        }
    }

    private static double ms(long[] sorted, double q) {
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(q * sorted.length) - 1)] / 1e6;
    }

    private static List<String> vocabulary(EvalSet set) {
        Set<String> words = new java.util.LinkedHashSet<>();
        for (EvalSet.Conversation c : set.conversations()) {
            for (EvalSet.Turn t : c.turns()) {
                for (String w : t.text().split("[^A-Za-z']+")) if (w.length() > 1) words.add(w.toLowerCase());
            }
        }
        return new ArrayList<>(words);
    }

    /** 8-24 words, drawn with a Zipf-like skew so common words are common, as in chat. */
    private static String sentence(Random random, List<String> vocabulary) {
        int len = 8 + random.nextInt(17);
        StringBuilder b = new StringBuilder("[2024-0").append(1 + random.nextInt(9)).append("-1").append(random.nextInt(10)).append("] ");
        for (int i = 0; i < len; i++) {
            int idx = (int) Math.floor(Math.pow(random.nextDouble(), 2.5) * vocabulary.size());
            b.append(i == 0 ? "" : " ").append(vocabulary.get(idx));
        }
        return b.toString();
    }

    private static float[] randomUnit(Random random) {
        float[] v = new float[Embedder.DIMENSION];
        double sum = 0;
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
            sum += v[i] * v[i];
        }
        float inv = (float) (1 / Math.sqrt(sum));
        for (int i = 0; i < v.length; i++) v[i] *= inv;
        return v;
    }

    private static dev.kvasir.memory.store.MemoryStore open(Path db) {
        return dev.kvasir.memory.store.SqliteMemoryStore.open(db);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
