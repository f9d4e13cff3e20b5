package dev.kvasir.bench.kvmemory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code scripts/bench kv-memory}: how much KV memory paging and prefix sharing save. Replays a chat
 * trace and an agent trace against contiguous max-model-len reservation, 16-token pages, and pages with
 * prefix sharing, within {@value TraceReplay#BUDGET_SLOTS} slots; prints a table, writes
 * bench/results/kv-memory.png and ends with the one summary line scripts parse.
 * Arguments: {@code [chatRequests] [agentRequests] [seed]}.
 */
public final class KvMemoryBench {

    private KvMemoryBench() {}

    public static void main(String[] args) throws Exception {
        System.setProperty("java.awt.headless", "true");
        int chatRequests = args.length > 0 ? Integer.parseInt(args[0]) : 2_000;
        int agentRequests = args.length > 1 ? Integer.parseInt(args[1]) : 600;
        long seed = args.length > 2 ? Long.parseLong(args[2]) : 2_024;

        List<Request> chat = Workloads.chat(chatRequests, seed);
        List<Request> agents = Workloads.agents(agentRequests, seed + 1);
        List<ReplayResult> results = new ArrayList<>();
        for (Strategy s : Strategy.values()) {
            results.add(TraceReplay.replay("chat", s, chat));
        }
        for (Strategy s : Strategy.values()) {
            results.add(TraceReplay.replay("agents", s, agents));
        }

        System.out.printf(Locale.ROOT, "kv-memory: %d chat requests (lognormal prompt/output, means 600/250, "
                        + "max-model-len %d), %d agent requests (%d-token system prompt + %d-token memory of "
                        + "%d users + turn of mean %d; n = 4 on a quarter); budget %d slots, block size %d%n%n",
                chatRequests, Workloads.MAX_MODEL_LEN, agentRequests, Workloads.SYSTEM_PROMPT_TOKENS,
                Workloads.USER_MEMORY_TOKENS, Workloads.USERS, Workloads.AGENT_TURN_MEAN,
                TraceReplay.BUDGET_SLOTS, TraceReplay.BLOCK_SIZE);
        System.out.printf(Locale.ROOT, "%-8s %-14s %10s %10s %10s %12s %8s %11s%n",
                "workload", "strategy", "waste_%", "peak_seqs", "mean_seqs", "sharing_%", "steps", "preemptions");
        for (ReplayResult r : results) {
            System.out.printf(Locale.ROOT, "%-8s %-14s %10.2f %10d %10.1f %12s %8d %11d%n",
                    r.workload(), r.strategy().label, r.wastePct(), r.peakSeqs(), r.meanSeqs(),
                    r.strategy() == Strategy.PAGED_SHARED ? String.format(Locale.ROOT, "%.2f", r.sharingSavingPct()) : "-",
                    r.steps(), r.preemptions());
        }

        Path png = Path.of("bench", "results", "kv-memory.png");
        KvMemoryChart.write(results, List.of("chat", "agents"), png);
        System.out.println();
        System.out.println("chart: " + png);

        ReplayResult chatPaged = find(results, "chat", Strategy.PAGED);
        ReplayResult chatContiguous = find(results, "chat", Strategy.CONTIGUOUS);
        ReplayResult agentShared = find(results, "agents", Strategy.PAGED_SHARED);
        System.out.printf(Locale.ROOT, "kv-memory: paged_waste_pct=%.2f contiguous_waste_pct=%.2f "
                        + "agent_sharing_saving_pct=%.2f paged_max_seqs=%d contiguous_max_seqs=%d%n",
                chatPaged.wastePct(), chatContiguous.wastePct(), agentShared.sharingSavingPct(),
                chatPaged.peakSeqs(), chatContiguous.peakSeqs());
    }

    private static ReplayResult find(List<ReplayResult> results, String workload, Strategy strategy) {
        return results.stream().filter(r -> r.workload().equals(workload) && r.strategy() == strategy)
                .findFirst().orElseThrow();
    }
}
