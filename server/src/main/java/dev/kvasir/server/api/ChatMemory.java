package dev.kvasir.server.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.memory.ChatTurn;
import dev.kvasir.memory.MemoryPromptRenderer;
import dev.kvasir.memory.MemoryService;
import dev.kvasir.memory.SearchHit;
import dev.kvasir.memory.SearchResult;
import dev.kvasir.memory.TokenCounter;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What the memory layer does to one chat request. Before: retrieve memories for the latest user
 * turn and assemble the prompt in the order that keeps consecutive turns' prefixes equal (system
 * prompt, the memory block as one system message, the session's earlier turns when the server
 * keeps them, the new turn), each part cut to its token budget so the prompt always leaves the
 * completion its room. After the response: record the exchange for the session, off the request
 * path.
 */
final class ChatMemory {

    /** Memories injected at most when the request does not say. */
    static final int DEFAULT_TOP_K = 8;
    /** Tokens the memory block may take when the request does not say. */
    static final int DEFAULT_MAX_TOKENS = 512;
    /** The template's own tokens around each message, as estimated before the prompt is rendered. */
    static final int TEMPLATE_TOKENS_PER_MESSAGE = 8;
    /** Completion room kept free when the request sets no max_tokens. */
    static final int DEFAULT_COMPLETION_ROOM = 256;

    private final MemoryService memory;
    private final TokenCounter counter;
    private final MemoryPlacement placement;
    private final SessionNotes sessionNotes = new SessionNotes();
    /**
     * Each session's turn still being recorded: the next turn waits for it before reading the
     * history (read-your-writes), else an agent that answers at once would get a history without
     * its last turn, and the turn after that a prompt that changed in the middle.
     */
    private final ConcurrentHashMap<String, CompletableFuture<Void>> recording =
            new ConcurrentHashMap<>();
    /** How long a turn waits for its session's previous turn to be recorded. */
    private static final long RECORDING_WAIT_MILLIS = 2_000;

    ChatMemory(MemoryService memory, TokenCounter counter, MemoryPlacement placement) {
        this.memory = memory;
        this.counter = counter;
        this.placement = placement;
    }

    /**
     * The request's prompt messages with memory in them, and what was injected.
     *
     * @param sessionId the session the turn is recorded under: the request's, or a new one
     */
    record Plan(List<ChatRequest.Message> messages, String sessionId, SearchResult injected, int historyTurns,
                String userText, boolean write, SessionNotes.Note note) {

        /**
         * The response's {@code memory} object: session, injected memory ids and their block's tokens,
         * and per injected memory its scores and source (why it was chosen, where it came from).
         */
        ObjectNode json() {
            ObjectNode o = Json.MAPPER.createObjectNode().put("session_id", sessionId);
            ArrayNode ids = o.putArray("injected");
            injected.ids().forEach(ids::add);
            ArrayNode hits = o.putArray("hits");
            for (SearchHit h : injected.hits()) {
                ObjectNode hit = hits.addObject().put("id", h.memory().id()).put("score", h.score())
                        .put("similarity", h.similarity()).put("lexical_score", h.lexicalScore())
                        .put("fact_key", h.memory().factKey()).put("tier", h.memory().tier().apiName());
                hit.putObject("source").put("session_id", h.memory().source().sessionId())
                        .put("time", h.memory().source().time() == null ? null : h.memory().source().time().toString());
            }
            o.put("tokens", Math.max(0, injected.tokens())).put("history_turns", historyTurns);
            return o;
        }
    }

    /**
     * The plan for a request, or null when memory does not apply (no {@code user}, or
     * {@code memory.enabled: false}).
     *
     * @param room tokens the assembled prompt may take at most (context less the completion's room)
     */
    Plan plan(String tenant, ChatRequest req, int room) {
        MemoryOptions opts = req.memory();
        if (req.user() == null || !opts.enabled()) {
            if (opts.serverHistory()) throw ApiException.badRequest("memory.history", "'history': 'server' needs 'user'");
            return null;
        }
        if (opts.serverHistory() && opts.sessionId() == null) {
            throw ApiException.badRequest("memory.session_id", "'history': 'server' needs 'memory.session_id'");
        }
        String sessionId = opts.sessionId() != null ? opts.sessionId()
                : "sess_" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        List<ChatRequest.Message> sent = req.messages();
        int systems = 0;
        while (systems < sent.size() && isSystem(sent.get(systems))) systems++;
        String userText = latestUserText(sent);
        List<SessionNotes.Note> notes = placement == MemoryPlacement.TURN ? sessionNotes.notes(tenant, req.user(), sessionId) : List.of();
        // The messages as sent (and the session's earlier notes) already take their tokens, and the template
        // some per message (a role header, separators): memory and history share what is left.
        int left = room - counter.count(joined(sent)) - TEMPLATE_TOKENS_PER_MESSAGE * (sent.size() + notes.size() + 1);
        for (SessionNotes.Note n : notes) left -= counter.count(n.block());
        int budget = Math.min(opts.maxTokens() != null ? opts.maxTokens() : DEFAULT_MAX_TOKENS, left);
        SearchResult found = budget < 1 ? new SearchResult(List.of(), null, 0)
                : MemoryApi.call(() -> memory.contextFor(tenant, req.user(), sessionId, userText,
                        opts.topK() != null ? opts.topK() : DEFAULT_TOP_K, budget, counter));
        List<ChatTurn> history = List.of();
        int historyBudget = left - Math.max(0, found.tokens());
        if (opts.serverHistory() && historyBudget > 0) {
            awaitRecorded(tenant, req.user(), sessionId);
            history = MemoryApi.call(() -> memory.sessionHistory(tenant, req.user(), sessionId, historyBudget, counter));
        }
        List<ChatRequest.Message> conversation = new ArrayList<>(history.size() + sent.size());
        for (ChatTurn t : history) conversation.add(new ChatRequest.Message(t.role(), t.content(), null, null));
        conversation.addAll(sent.subList(systems, sent.size()));
        List<ChatRequest.Message> messages = new ArrayList<>(sent.size() + history.size() + notes.size() + 1);
        messages.addAll(sent.subList(0, systems));
        if (placement == MemoryPlacement.BLOCK) {
            // The ablation: every turn's retrieved memories in one block after the system prompt, in a new order.
            SearchResult shuffled = shuffled(found);
            if (shuffled.block() != null) messages.add(new ChatRequest.Message("system", shuffled.block(), null, null));
            messages.addAll(conversation);
            return new Plan(messages, sessionId, shuffled, history.size(), userText, opts.write(), null);
        }
        // Stable placement: each earlier turn's note goes back before its user message; this turn's note (the
        // memories the session has not seen yet) goes before the new user message.
        int users = 0;
        for (ChatRequest.Message m : conversation) if (m.role().equals("user")) users++;
        int turn = users - 1;
        Set<String> seen = SessionNotes.idsBefore(notes, turn);
        List<SearchHit> fresh = found.hits().stream().filter(h -> !seen.contains(h.memory().id())).toList();
        SessionNotes.Note note = fresh.isEmpty() ? null : new SessionNotes.Note(turn,
                MemoryPromptRenderer.render(fresh.stream().map(SearchHit::memory).toList()),
                fresh.stream().map(h -> h.memory().id()).toList());
        int u = 0;
        for (ChatRequest.Message m : conversation) {
            if (m.role().equals("user")) {
                int at = u++;
                SessionNotes.Note n = at == turn ? note : notes.stream().filter(x -> x.turn() == at).findFirst().orElse(null);
                if (n != null) messages.add(new ChatRequest.Message("system", n.block(), null, null));
            }
            messages.add(m);
        }
        SearchResult injected = note == null ? new SearchResult(List.of(), null, 0)
                : new SearchResult(fresh, note.block(), counter.count(note.block()));
        return new Plan(messages, sessionId, injected, history.size(), userText, opts.write(), note);
    }

    /** The plan goes out as planned: this turn's note is kept for the session's next turns. */
    void commit(String tenant, String user, Plan plan) {
        if (plan.note() != null) sessionNotes.put(tenant, user, plan.sessionId(), plan.note());
    }

    /** The hits in a new random order, rendered so (the unstable-order ablation). */
    private static SearchResult shuffled(SearchResult found) {
        if (found.hits().size() < 2) return found;
        List<SearchHit> hits = new ArrayList<>(found.hits());
        java.util.Collections.shuffle(hits, ThreadLocalRandom.current());
        String block = MemoryPromptRenderer.render(hits.stream().map(SearchHit::memory).toList());
        return new SearchResult(hits, block, found.tokens());
    }

    /**
     * The same plan with the memory block folded into the first system message (or a new leading
     * one), for chat templates that accept only one system message at the start.
     */
    static List<ChatRequest.Message> foldSystem(List<ChatRequest.Message> messages) {
        List<ChatRequest.Message> out = new ArrayList<>(messages.size());
        StringBuilder system = new StringBuilder();
        int i = 0;
        while (i < messages.size() && isSystem(messages.get(i))) {
            if (!system.isEmpty()) system.append("\n\n");
            system.append(messages.get(i++).content());
        }
        out.add(new ChatRequest.Message("system", system.toString(), null, null));
        // A note later on (a turn's memories) goes in front of the user message it precedes.
        String pending = null;
        for (; i < messages.size(); i++) {
            ChatRequest.Message m = messages.get(i);
            if (isSystem(m)) {
                pending = pending == null ? m.content() : pending + "\n\n" + m.content();
            } else if (pending != null && m.role().equals("user")) {
                out.add(new ChatRequest.Message("user", pending + "\n\n" + m.content(), m.name(), m.toolCallId(), m.toolCalls()));
                pending = null;
            } else {
                out.add(m);
            }
        }
        return out;
    }

    /** Records the exchange for the session in the background (never delaying the response). */
    void record(String tenant, String user, Plan plan, String assistantText) {
        if (!plan.write() || plan.userText() == null) return;
        String key = sessionKey(tenant, user, plan.sessionId());
        CompletableFuture<Void> written =
                memory.recordTurn(tenant, user, plan.sessionId(), plan.userText(), assistantText);
        recording.put(key, written);
        written.whenComplete((v, e) -> recording.remove(key, written));
    }

    private void awaitRecorded(String tenant, String user, String sessionId) {
        CompletableFuture<Void> pending = recording.get(sessionKey(tenant, user, sessionId));
        if (pending == null) return;
        try {
            pending.get(RECORDING_WAIT_MILLIS, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            // The write failed (logged where it ran) or is slow: answer from the history there is.
        }
    }

    private static String sessionKey(String tenant, String user, String sessionId) {
        return tenant + '\0' + user + '\0' + sessionId;
    }

    private static boolean isSystem(ChatRequest.Message m) {
        return m.role().equals("system") || m.role().equals("developer");
    }

    private static String latestUserText(List<ChatRequest.Message> messages) {
        for (int i = messages.size() - 1; i >= 0; i--) {
            if (messages.get(i).role().equals("user") && messages.get(i).content() != null) return messages.get(i).content();
        }
        return null;
    }

    private static String joined(List<ChatRequest.Message> messages) {
        StringBuilder sb = new StringBuilder();
        for (ChatRequest.Message m : messages) if (m.content() != null) sb.append(m.content()).append('\n');
        return sb.toString();
    }
}
