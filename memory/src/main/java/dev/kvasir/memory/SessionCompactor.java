package dev.kvasir.memory;

import dev.kvasir.memory.store.MemoryStore;
import dev.kvasir.memory.store.StoredMemory;
import dev.kvasir.memory.summary.ExtractiveSummarizer;
import dev.kvasir.memory.summary.ModelSummarizer;
import dev.kvasir.memory.summary.Summarizer;
import dev.kvasir.memory.summary.SummarizerMode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Keeps a session's history within its budget (tiered policies), off the request path: when the
 * session's turns and summaries in the active set pass {@link #TRIGGER} of the budget, its oldest
 * turns (never the last two) are summarized into one entry of depth 1 that records the ids it
 * replaces, and the originals move to the archive (still found by an archive search). A summary
 * is never summarized again: when summaries themselves pass half the budget, the oldest move to
 * the archive whole.
 */
final class SessionCompactor {
    static final double TRIGGER = 0.75;
    private static final int KEEP_NEWEST_TURNS = 2;
    static final int MAX_ENTRIES = 400;

    private final MemoryStore store;
    private final SummarizerMode mode;
    private final TokenCache tokens;
    private final Supplier<MemoryModel> model;
    private final Function<String, float[]> embed;
    private final ExtractiveSummarizer extractive = new ExtractiveSummarizer();

    SessionCompactor(MemoryStore store, SummarizerMode mode, TokenCache tokens, Supplier<MemoryModel> model, Function<String, float[]> embed) {
        this.store = store;
        this.mode = mode;
        this.tokens = tokens;
        this.model = model;
        this.embed = embed;
    }

    /** Compacts the session when it is over the trigger; returns the summary written, or null. */
    Memory compact(Owner owner, String sessionId, int budget, Instant now) {
        List<Memory> entries = new ArrayList<>();
        for (Memory m : store.sessionMemories(owner, sessionId, MAX_ENTRIES)) if (isHistory(m)) entries.add(m);
        entries = entries.reversed(); // oldest first
        long total = entries.stream().mapToLong(m -> tokens.count(m.content())).sum();
        if (total <= TRIGGER * budget) return null;
        List<Memory> summaries = entries.stream().filter(m -> Memory.SUMMARY.equals(m.kind())).toList();
        long summaryTokens = summaries.stream().mapToLong(m -> tokens.count(m.content())).sum();
        List<String> archive = new ArrayList<>();
        for (Memory s : summaries) {
            if (summaryTokens <= budget / 4) break;
            archive.add(s.id()); // too many summaries: the oldest go whole, never into a summary of summaries
            summaryTokens -= tokens.count(s.content());
            total -= tokens.count(s.content());
        }
        if (!archive.isEmpty()) store.moveTier(owner, archive, Tier.ARCHIVE, "summarizer");
        List<Memory> turns = entries.stream().filter(m -> Memory.TURN.equals(m.kind()) && m.summaryDepth() == 0).toList();
        List<Memory> replaced = new ArrayList<>();
        for (int i = 0; i < turns.size() - KEEP_NEWEST_TURNS && total > budget / 2; i++) {
            replaced.add(turns.get(i));
            total -= tokens.count(turns.get(i).content());
        }
        if (replaced.isEmpty()) return null;
        int summaryBudget = Math.max(16, budget / 4);
        List<ChatTurn> chat = replaced.stream().map(m -> new ChatTurn(m.metadata().getOrDefault(Memory.ROLE, "user"), m.content(),
                m.createdAt())).toList();
        String text = summarizer().summarize(chat, summaryBudget, tokens::count);
        if (text == null) text = extractive.summarize(chat, summaryBudget, tokens::count);
        if (text == null) text = "Earlier in this conversation: small talk, with no facts, decisions or preferences.";
        List<String> ids = replaced.stream().map(Memory::id).toList();
        Memory summary = new Memory(MemoryIds.newId(now), owner.tenant(), owner.user(), Scope.USER, sessionId, null, text, 0.6, 1.0,
                false, Tier.RECENT, new Source(sessionId, null, now), now, null, 0, Map.of(Memory.KIND, Memory.SUMMARY), null, null,
                null, null, 0, List.of()).asSummary(1, ids);
        store.writeSummary(owner, new StoredMemory(summary, embed.apply(text)), ids, "summarizer");
        return summary;
    }

    /** A turn or summary of the session still in the active set. */
    static boolean isHistory(Memory m) {
        return m.tier() != Tier.ARCHIVE && (Memory.TURN.equals(m.kind()) || Memory.SUMMARY.equals(m.kind()));
    }

    private Summarizer summarizer() {
        MemoryModel m = model.get();
        boolean useModel = m != null && (mode == SummarizerMode.MODEL || (mode == SummarizerMode.AUTO && m.followsInstructions()));
        return useModel ? new ModelSummarizer(m) : extractive;
    }
}
