package dev.kvasir.server.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.memory.ChatTurn;
import dev.kvasir.memory.FactSheet;
import dev.kvasir.memory.MemoryContext;
import dev.kvasir.memory.MemoryPromptRenderer;
import dev.kvasir.memory.MemoryService;
import dev.kvasir.memory.TokenCounter;

import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What the memory layer does to one chat request. Before: retrieve memories for the latest user
 * turn and assemble the prompt in the order that keeps consecutive turns' prefixes equal (system
 * prompt, the core block, the retrieved memories, the session's summary and earlier turns when the
 * server keeps them, the new turn), each part cut to its token budget so the prompt always leaves
 * the completion its room. After the response: record the exchange for the session, off the
 * request path (facts, conflicts, summaries and the policy follow on memory's background thread).
 */
final class ChatMemory {

    /** Memories injected at most when the request does not say. */
    static final int DEFAULT_TOP_K = 8;
    /** Tokens the memory blocks (core and retrieved) may take when the request does not say. */
    static final int DEFAULT_MAX_TOKENS = 512;
    /** The template's own tokens around each message, as estimated before the prompt is rendered. */
    static final int TEMPLATE_TOKENS_PER_MESSAGE = 8;
    /** Completion room kept free when the request sets no max_tokens. */
    static final int DEFAULT_COMPLETION_ROOM = 256;

    private final MemoryService memory;
    private final TokenCounter counter;

    ChatMemory(MemoryService memory, TokenCounter counter) {
        this.memory = memory;
        this.counter = counter;
    }

    /**
     * The request's prompt messages with memory in them, and what was injected.
     *
     * @param sessionId the session the turn is recorded under: the request's, or a new one
     * @param facts     the user's valid facts when the request asked to verify the reply, else null
     */
    record Plan(List<ChatRequest.Message> messages, String sessionId, MemoryContext injected, int historyTurns,
                String userText, boolean write, FactSheet facts) {

        /** The plan without memory in the prompt (no room for it): the turn is still recorded and verified. */
        Plan withoutMemory(List<ChatRequest.Message> sent) {
            return new Plan(sent, sessionId, MemoryContext.EMPTY, 0, userText, write, facts);
        }

        /**
         * The response's {@code memory} object: session, injected memory ids (core first) with the
         * core's own, the blocks' tokens, history turns, and the conflicts resolved for what was injected.
         */
        ObjectNode json() {
            ObjectNode o = Json.MAPPER.createObjectNode().put("session_id", sessionId);
            ArrayNode ids = o.putArray("injected");
            injected.injectedIds().forEach(ids::add);
            ArrayNode core = o.putArray("core");
            injected.core().forEach(m -> core.add(m.id()));
            o.put("tokens", injected.tokens()).put("history_turns", historyTurns);
            o.set("conflicts", MemoryApi.conflictsJson(injected.conflicts()));
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
            if (opts.verify()) throw ApiException.badRequest("memory.verify", "'verify' needs 'user'");
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
        // The messages as sent already take their tokens, and the template some per message (a role
        // header, separators): memory and history share what is left.
        int left = room - counter.count(joined(sent)) - TEMPLATE_TOKENS_PER_MESSAGE * (sent.size() + 2);
        int budget = Math.min(opts.maxTokens() != null ? opts.maxTokens() : DEFAULT_MAX_TOKENS, left);
        MemoryContext found = budget < 1 ? MemoryContext.EMPTY
                : MemoryApi.call(() -> memory.contextFor(tenant, req.user(), sessionId, userText,
                        opts.topK() != null ? opts.topK() : DEFAULT_TOP_K, budget, counter));
        left -= found.tokens();
        List<ChatTurn> history = List.of();
        if (opts.serverHistory() && left > 0) {
            int historyBudget = left;
            history = MemoryApi.call(() -> memory.sessionHistory(tenant, req.user(), sessionId, historyBudget, counter));
        }
        FactSheet facts = opts.verify() ? MemoryApi.call(() -> memory.factSheet(tenant, req.user())) : null;
        List<ChatRequest.Message> messages = new ArrayList<>(sent.size() + history.size() + 2);
        messages.addAll(sent.subList(0, systems));
        if (found.coreBlock() != null) messages.add(new ChatRequest.Message("system", found.coreBlock(), null, null));
        if (found.retrieved().block() != null) messages.add(new ChatRequest.Message("system", found.retrieved().block(), null, null));
        int historyTurns = 0;
        for (ChatTurn t : history) {
            if (ChatTurn.SUMMARY.equals(t.role())) {
                messages.add(new ChatRequest.Message("system", MemoryPromptRenderer.renderSummary(t.content()), null, null));
            } else {
                messages.add(new ChatRequest.Message(t.role(), t.content(), null, null));
                historyTurns++;
            }
        }
        messages.addAll(sent.subList(systems, sent.size()));
        return new Plan(messages, sessionId, found, historyTurns, userText, opts.write(), facts);
    }

    /**
     * The same plan with the memory blocks folded into the first system message (or a new leading
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
        out.addAll(messages.subList(i, messages.size()));
        return out;
    }

    /** Records the exchange for the session in the background (never delaying the response). */
    void record(String tenant, String user, Plan plan, String assistantText) {
        if (!plan.write() || plan.userText() == null) return;
        memory.recordTurn(tenant, user, plan.sessionId(), plan.userText(), assistantText);
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
