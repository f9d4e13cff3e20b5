package dev.kvasir.bench.memory;

import dev.kvasir.memory.ChatTurn;
import dev.kvasir.memory.ManualClock;
import dev.kvasir.memory.Memory;
import dev.kvasir.memory.MemoryConfig;
import dev.kvasir.memory.MemoryContext;
import dev.kvasir.memory.MemoryFeatures;
import dev.kvasir.memory.MemoryPage;
import dev.kvasir.memory.MemoryService;
import dev.kvasir.memory.Tier;
import dev.kvasir.memory.TokenCounter;
import dev.kvasir.memory.VectorMode;
import dev.kvasir.memory.policy.PolicyKind;
import dev.kvasir.memory.search.Embedder;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * {@code scripts/bench memory [--seed 12] [--users 8] [--sessions 200] [--interactions 50]
 * [--user-budget 1024] [--window 2048] [--policies lru,importance,tiered,hybrid,hybrid-pq]}: the memory-strategy
 * table. One {@link AgentWorkload} runs
 * through a real {@link MemoryService} (SQLite, rule extractor, MiniLM embeddings) under each
 * policy with the same budgets, then hybrid again with pq vectors: every user message is a chat
 * turn (retrieve for it, assemble the prompt, record the exchange), as {@code /v1/chat/completions}
 * does with {@code history: "server"}. Prints one row per policy, a PNG chart, and the
 * {@code memory-bench:} lines. Deterministic apart from timing: the clock is simulated.
 */
public final class MemoryStrategyBench {
    private static final String TENANT = "bench";
    /** The served model's tokens, estimated (4 characters a token): the same for every policy. */
    static final TokenCounter COUNTER = text -> text.length() / 4 + 1;
    static final int SYSTEM_PROMPT_TOKENS = 64, TEMPLATE_TOKENS_PER_MESSAGE = 8, COMPLETION_ROOM = 256;
    static final int TOP_K = 8, MEMORY_TOKENS = 512, CORE_BUDGET = 128;

    public static void main(String[] args) throws Exception {
        long seed = 12;
        // 200 sessions over 8 users: 25 sessions (2,500 recorded messages) each, past pq's 1,024-memory training minimum.
        int users = 8, sessions = 200, interactions = 50, userBudget = 1024, window = 2048;
        String policies = "lru,importance,tiered,hybrid,hybrid-pq";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seed" -> seed = Long.parseLong(args[++i]);
                case "--users" -> users = Integer.parseInt(args[++i]);
                case "--sessions" -> sessions = Integer.parseInt(args[++i]);
                case "--interactions" -> interactions = Integer.parseInt(args[++i]);
                case "--user-budget" -> userBudget = Integer.parseInt(args[++i]);
                case "--window" -> window = Integer.parseInt(args[++i]);
                case "--policies" -> policies = args[++i];
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + " (--seed S --users N --sessions N --interactions N --user-budget TOKENS --window TOKENS"
                        + " --policies lru,importance,tiered,hybrid,hybrid-pq)");
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
        AgentWorkload workload = AgentWorkload.generate(seed, users, sessions, interactions);
        out.println(String.format(Locale.ROOT, "memory-bench on %d cores, Java %s, load average %.2f; seed %d: %d users, %d sessions of %d"
                        + " messages (%d facts, %d corrections, %d queries, %d chatter); user budget %d tokens, core %d, session %d, window %d",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"), loadAverage(), seed, users, sessions,
                interactions, workload.count(AgentWorkload.Kind.FACT), workload.count(AgentWorkload.Kind.CORRECTION),
                workload.count(AgentWorkload.Kind.QUERY), workload.count(AgentWorkload.Kind.CHATTER), userBudget, CORE_BUDGET,
                sessionBudget(window), window));
        Embedder.shared().join();
        List<StrategyScore.Row> rows = new ArrayList<>();
        Path dir = Files.createTempDirectory("kvasir-memory-strategy");
        for (String name : policies.split(",")) {
            boolean pq = name.endsWith("-pq");
            PolicyKind policy = PolicyKind.parse(pq ? name.substring(0, name.length() - 3) : name);
            rows.add(run(workload, policy, pq ? VectorMode.PQ : VectorMode.FLOAT, userBudget, window, dir, out));
        }
        out.println("");
        out.println(String.format("%-10s %8s %8s %8s %10s %12s %10s", "policy", "util %", "p50 ms", "p99 ms", "accuracy %",
                "corrected %", "overflow %"));
        for (StrategyScore.Row r : rows) {
            out.println(String.format(Locale.ROOT, "%-10s %8.1f %8.2f %8.2f %10.1f %12.1f %10.1f", r.policy(), r.utilPct(), r.p50Ms(),
                    r.p99Ms(), r.accuracyPct(), r.correctedAccuracyPct(), r.overflowPct()));
        }
        out.println(String.format(Locale.ROOT, "load average at the end %.2f", loadAverage()));
        Path results = Path.of("bench/results");
        Files.createDirectories(results);
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path png = results.resolve("memory-" + stamp + ".png");
        StrategyChart.write(rows, png);
        out.println("chart: " + png);
        for (StrategyScore.Row r : rows) out.println(r.line());
        Files.writeString(results.resolve("memory-" + stamp + ".txt"), report);
        deleteTree(dir);
    }

    static StrategyScore.Row run(AgentWorkload workload, PolicyKind policy, VectorMode vectors, int userBudget, int window, Path dir,
                                 PrintStream out) {
        String name = vectors == VectorMode.PQ ? policy.apiName() + "-pq" : policy.apiName();
        MemoryFeatures features = MemoryFeatures.DEFAULTS.withPolicy(policy).withVectors(vectors)
                .withBudgets(userBudget, CORE_BUDGET, sessionBudget(window));
        ManualClock clock = new ManualClock(Instant.parse("2026-01-05T09:00:00Z"));
        StrategyScore score = new StrategyScore(name);
        Map<String, List<Later>> later = laterQueries(workload);
        long t0 = System.nanoTime();
        try (MemoryService memory = MemoryService.open("sqlite:" + dir.resolve(name + ".db"), MemoryConfig.defaults().withClock(clock)
                .withFeatures(features)).orElseThrow()) {
            memory.attach(COUNTER, null, window);
            for (int s = 0; s < workload.sessions().size(); s++) {
                AgentWorkload.Session session = workload.sessions().get(s);
                clock.advance(Duration.ofHours(3));
                for (AgentWorkload.Interaction in : session.interactions()) {
                    clock.advance(Duration.ofMinutes(1));
                    long started = System.nanoTime();
                    MemoryContext ctx = memory.contextFor(TENANT, session.user(), session.id(), in.text(), TOP_K, MEMORY_TOKENS, COUNTER);
                    score.retrievalNanos(System.nanoTime() - started);
                    int prompt = SYSTEM_PROMPT_TOKENS + ctx.tokens() + 2 * TEMPLATE_TOKENS_PER_MESSAGE + COUNTER.count(in.text())
                            + COMPLETION_ROOM;
                    for (ChatTurn t : memory.sessionHistory(TENANT, session.user(), session.id(), Integer.MAX_VALUE, COUNTER)) {
                        prompt += COUNTER.count(t.content()) + TEMPLATE_TOKENS_PER_MESSAGE;
                    }
                    score.prompt(session.id(), prompt, window);
                    if (in.kind() == AgentWorkload.Kind.QUERY) {
                        String injected = Stream.of(ctx.coreBlock(), ctx.retrieved().block()).filter(b -> b != null)
                                .reduce("", (a, b) -> a + "\n" + b);
                        score.query(in, injected);
                    }
                    memory.recordTurn(TENANT, session.user(), session.id(), in.text(), reply(in)).join();
                }
                score.utilization(neededTokens(memory, session.user(), later.get(session.user()), s, clock.instant()), userBudget);
            }
            StrategyScore.Row row = score.row();
            String bytes = "";
            if (vectors == VectorMode.PQ || policy == PolicyKind.HYBRID) {
                String user = workload.sessions().getFirst().user();
                int n = memory.indexedCount(TENANT, user);
                bytes = String.format(Locale.ROOT, ", vectors of %s: %d bytes a memory, %d memories, codebook %d bytes", user,
                        memory.vectorBytes(TENANT, user), n, memory.codebookBytes());
            }
            out.println(String.format(Locale.ROOT, "%-10s done in %.1f s: %d queries (%d on corrected facts); facts extracted %d, conflicts"
                            + " resolved %d, summaries %d, evictions %d%s", name, (System.nanoTime() - t0) / 1e9, row.queries(),
                    row.correctedQueries(), memory.stats().factsExtracted(), memory.stats().conflictsResolved(), memory.stats().summaries(),
                    memory.stats().evictions(), bytes));
            out.println(String.format(Locale.ROOT, "%-10s %s", "", score.misses()));
            return row;
        }
    }

    /**
     * The session history's budget for a window: what the system prompt, the memory block, the new
     * turn and the completion leave, halved because the summarizer counts the turns' text while each
     * chat-length message costs about as much again in template tokens (role headers, separators).
     */
    static int sessionBudget(int window) {
        return (window - SYSTEM_PROMPT_TOKENS - MEMORY_TOKENS - COMPLETION_ROOM - 2 * TEMPLATE_TOKENS_PER_MESSAGE - 64) / 2;
    }

    /** The assistant's side of the exchange: never a value, so only the user's words carry facts. */
    private static String reply(AgentWorkload.Interaction in) {
        return in.kind() == AgentWorkload.Kind.QUERY ? "Let me check what I remember." : "Noted, thanks.";
    }

    /** A query yet to come: in which session, and the value it needs. */
    record Later(int session, String value) {}

    static Map<String, List<Later>> laterQueries(AgentWorkload workload) {
        Map<String, List<Later>> byUser = new HashMap<>();
        for (int s = 0; s < workload.sessions().size(); s++) {
            AgentWorkload.Session session = workload.sessions().get(s);
            for (AgentWorkload.Interaction in : session.interactions()) {
                if (in.kind() == AgentWorkload.Kind.QUERY) byUser.computeIfAbsent(session.user(), u -> new ArrayList<>()).add(new Later(s, in.value()));
            }
        }
        return byUser;
    }

    /** Tokens of the user's active set (core and recent, valid) that hold a value a query in a later session needs. */
    private static int neededTokens(MemoryService memory, String user, List<Later> later, int session, Instant now) {
        Set<String> needed = new java.util.HashSet<>();
        if (later != null) for (Later l : later) if (l.session() > session) needed.add(l.value());
        int tokens = 0;
        String cursor = null;
        do {
            MemoryPage page = memory.list(TENANT, user, 100, cursor);
            for (Memory m : page.data()) {
                if (m.tier() == Tier.ARCHIVE || !m.validAt(now)) continue;
                String text = m.content().toLowerCase(Locale.ROOT);
                if (needed.stream().anyMatch(v -> StrategyScore.contains(text, v))) tokens += COUNTER.count(m.content());
            }
            cursor = page.nextCursor();
        } while (cursor != null);
        return tokens;
    }

    private static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
