package dev.kvasir.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.memory.MemoryService;
import dev.kvasir.memory.TokenCounter;
import dev.kvasir.models.template.ChatTemplateException;
import dev.kvasir.models.tokenizer.PromptTooLongException;
import dev.kvasir.server.ServedModel;
import dev.kvasir.server.engine.Engine;
import dev.kvasir.server.engine.GenerationRequest;
import dev.kvasir.server.metrics.ServerMetrics;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;

/**
 * The endpoints. Cheap GETs answer on the event loop; POST bodies are parsed, templated and
 * tokenized on a small worker pool (never on an event loop, never on the engine thread), then
 * handed to the engine, whose outputs a {@link GenerationResponder} writes back.
 */
public final class ApiService {

    private static final Logger LOG = LoggerFactory.getLogger(ApiService.class);
    /**
     * Bodies larger than this are parsed and tokenized on their own one-thread lane, so a few huge
     * requests (legal up to --max-request-body) cannot hold every worker while small ones wait.
     */
    static final int LARGE_BODY_BYTES = 256 << 10;

    private final ServedModel model;
    private final Engine engine;
    private final ServerMetrics metrics;
    private final RequestParser parser;
    private final ExecutorService workers;
    /** The lane for large bodies: one thread, a short queue (a full one answers 503). */
    private final ExecutorService largeBodies = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(4),
            Thread.ofPlatform().name("kvasir-api-large").daemon(true).factory());
    private final long requestTimeoutNanos;
    /** The memory endpoints and the chat's memory steps; null when memory is off. */
    private final MemoryApi memoryApi;
    private final ChatMemory chatMemory;
    private final java.util.concurrent.atomic.AtomicInteger open = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean draining;
    private final long startedSeconds = System.currentTimeMillis() / 1000;

    /**
     * @param memory          the agent memory, or null when it is off ({@code --memory-store none})
     * @param workers         where bodies are parsed and tokenized (bounded: a full pool answers 503)
     * @param requestTimeoutSeconds deadline of a generation, from its arrival
     * @param placement       where chat puts retrieved memories ({@link MemoryPlacement#BLOCK}: the benchmark's ablation)
     */
    public ApiService(ServedModel model, Engine engine, ServerMetrics metrics, MemoryService memory,
                      ExecutorService workers, double requestTimeoutSeconds, MemoryPlacement placement) {
        this.model = model;
        this.engine = engine;
        this.metrics = metrics;
        this.parser = new RequestParser(engine.config().maxNumSeqs());
        this.workers = workers;
        this.requestTimeoutNanos = (long) (requestTimeoutSeconds * 1e9);
        TokenCounter counter = text -> model.tokenizer().encode(text, false, false).length;
        this.memoryApi = memory == null ? null : new MemoryApi(memory, counter);
        this.chatMemory = memory == null ? null : new ChatMemory(memory, counter, placement);
    }

    void countClientError(ApiException e) {
        int code = e.status().code();
        if (code == 503) metrics.rejected();
        else if (code >= 400 && code < 500) metrics.clientError();
    }

    void health(HttpExchange ex) {
        if (draining) ex.sendJson(HttpResponseStatus.SERVICE_UNAVAILABLE, Json.MAPPER.createObjectNode().put("status", "draining"));
        else if (engine.alive()) ex.sendJson(HttpResponseStatus.OK, Json.MAPPER.createObjectNode().put("status", "ok"));
        else throw new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", null, "engine_down", "The engine is not running");
    }

    void metrics(HttpExchange ex) {
        ex.sendText(HttpResponseStatus.OK, "text/plain; version=0.0.4; charset=utf-8", metrics.scrape());
    }

    void models(HttpExchange ex) {
        ObjectNode body = Json.MAPPER.createObjectNode().put("object", "list");
        body.putArray("data").addObject()
                .put("id", model.name()).put("object", "model").put("created", startedSeconds)
                .put("owned_by", "kvasir").put("max_model_len", model.maxModelLen());
        ex.sendJson(HttpResponseStatus.OK, body);
    }

    /** A request that reads a body or the memory store: on a worker (a large body on its own lane), never on an event loop. */
    void submit(HttpExchange ex, HttpMethod method, byte[] body) {
        if (draining) {
            throw new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", null, "server_shutting_down",
                    "The server is shutting down and takes no new requests; retry on another replica");
        }
        open.incrementAndGet();
        ex.whenDone(open::decrementAndGet);
        try {
            (body.length > LARGE_BODY_BYTES ? largeBodies : workers).execute(() -> dispatch(ex, method, body));
        } catch (RejectedExecutionException e) {
            throw ApiException.overloaded("The server is busy parsing other requests; retry shortly");
        }
    }

    /**
     * Stops admitting requests ({@code /health} answers 503 "draining", new requests 503) so a load
     * balancer moves traffic away; requests already in progress go on.
     */
    public void startDraining() {
        draining = true;
    }

    /** Requests admitted and not yet answered (or abandoned by their client). */
    public int openRequests() {
        return open.get();
    }

    private void dispatch(HttpExchange ex, HttpMethod method, byte[] body) {
        try {
            route(ex, method, body);
        } catch (ApiException e) {
            countClientError(e);
            ex.sendError(e);
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            LOG.error("request to {} failed", ex.path(), e);
            ex.sendError(new ApiException(HttpResponseStatus.INTERNAL_SERVER_ERROR, "server_error", null,
                    "internal_error", "Internal error: " + e.getClass().getSimpleName()));
        }
    }

    private void route(HttpExchange ex, HttpMethod method, byte[] body) {
        String path = ex.path();
        switch (path) {
            case "/v1/chat/completions" -> chat(ex, body);
            case "/v1/completions" -> completions(ex, body);
            case "/tokenize" -> tokenize(ex, body);
            case "/detokenize" -> detokenize(ex, body);
            case "/v1/embeddings" -> memoryApi().embeddings(ex, body);
            case "/v1/memories/search" -> memoryApi().search(ex, body);
            case "/v1/memories" -> {
                if (method.equals(HttpMethod.POST)) memoryApi().create(ex, body);
                else if (method.equals(HttpMethod.GET)) memoryApi().list(ex, ex.query());
                else memoryApi().forgetUser(ex, ex.query());
            }
            default -> {
                Matcher history = Routes.MEMORY_HISTORY.matcher(path);
                Matcher one = Routes.MEMORY_ID.matcher(path);
                if (history.matches()) {
                    memoryApi().history(ex, history.group(1), ex.query());
                } else if (one.matches()) {
                    String id = one.group(1);
                    if (method.equals(HttpMethod.GET)) memoryApi().get(ex, id, ex.query());
                    else if (method.equals(HttpMethod.PATCH)) memoryApi().patch(ex, id, body);
                    else memoryApi().delete(ex, id, ex.query());
                } else {
                    throw ApiException.notFound(null, "route_not_found", "No route for " + method + " " + path);
                }
            }
        }
    }

    private MemoryApi memoryApi() {
        if (memoryApi == null) {
            throw ApiException.notFound(null, "memory_disabled",
                    "Agent memory and embeddings are off on this server (started with --memory-store none)");
        }
        return memoryApi;
    }

    private void chat(HttpExchange ex, byte[] body) {
        ChatRequest req = parser.chat(body);
        checkModel(req.model());
        ChatMemory.Plan plan = null;
        if (chatMemory != null) {
            // Hopeless prompts are refused before any memory work (their bytes alone rule them out).
            long bytes = 0;
            for (ChatRequest.Message m : req.messages()) if (m.content() != null) bytes += m.content().getBytes(StandardCharsets.UTF_8).length;
            try {
                model.bounded().checkBytes(bytes, model.maxModelLen() - 1);
            } catch (PromptTooLongException e) {
                throw tooLong("messages", e);
            }
            plan = chatMemory.plan(ex.tenant(), req, model.maxModelLen() - 1 - completionRoom(req.spec()));
        } else if (req.memory().serverHistory()) {
            throw ApiException.badRequest("memory.history", "'history': 'server' needs agent memory, which is off on this server");
        }
        int room = model.maxModelLen() - 1 - completionRoom(req.spec());
        int[] prompt = encodeChat(plan != null ? plan.messages() : req.messages(), req.tools(), plan != null);
        // The budgets count the parts' text, not the template's own tokens: past the room, plan again with
        // the overshoot taken off (twice at most), then go without memory.
        for (int attempt = 0; plan != null && prompt.length > room && attempt < 2; attempt++) {
            int over = prompt.length - room;
            plan = chatMemory.plan(ex.tenant(), req, room - over - 8 * (attempt + 1));
            prompt = encodeChat(plan.messages(), req.tools(), true);
        }
        if (plan != null && prompt.length > room) {
            LOG.debug("memory left out: the assembled prompt of {} tokens leaves no room", prompt.length);
            plan = new ChatMemory.Plan(req.messages(), plan.sessionId(), new dev.kvasir.memory.SearchResult(List.of(), null, 0), 0,
                    plan.userText(), plan.write(), null);
            prompt = encodeChat(req.messages(), req.tools(), false);
        }
        if (plan != null) chatMemory.commit(ex.tenant(), req.user(), plan);
        ChatMemory.Plan done = plan;
        String tenant = ex.tenant();
        // An agent session's prompt comes back next turn, longer: its blocks are worth keeping (and pinning, when asked).
        Integer pin = req.memory().pinPrefixSeconds();
        GenerationRequest.CacheHint cache = new GenerationRequest.CacheHint(plan != null,
                pin == null ? 0 : TimeUnit.SECONDS.toNanos(pin));
        generate(ex, true, "chatcmpl-", List.of(prompt), req.spec(), "messages", cache, plan == null ? null : plan.json(),
                plan == null ? null : text -> chatMemory.record(tenant, req.user(), done, text));
    }

    /** Tokens the completion is given: max_tokens, or a default share when the request sets none. */
    private int completionRoom(GenerationSpec spec) {
        return spec.maxTokens() != null ? spec.maxTokens() : Math.min(ChatMemory.DEFAULT_COMPLETION_ROOM, model.maxModelLen() / 4);
    }

    private void completions(HttpExchange ex, byte[] body) {
        CompletionRequest req = parser.completion(body);
        checkModel(req.model());
        List<int[]> prompts = new ArrayList<>();
        for (CompletionRequest.Prompt p : req.prompts()) {
            int[] tokens = p.tokens() != null ? checkTokenIds(p.tokens(), "prompt") : encodeText(p.text());
            if (tokens.length == 0) throw ApiException.badRequest("prompt", "The prompt is empty");
            prompts.add(tokens);
        }
        if (prompts.size() * req.spec().n() > engine.config().maxNumSeqs()) {
            throw ApiException.badRequest("n", "prompts × n = " + prompts.size() * req.spec().n()
                    + " exceeds max-num-seqs " + engine.config().maxNumSeqs());
        }
        generate(ex, false, "cmpl-", prompts, req.spec(), "prompt", GenerationRequest.CacheHint.NONE, null, null);
    }

    /**
     * @param memory     the response's {@code memory} object, or null
     * @param onComplete given the first choice's whole text as the response completes, just before its last bytes go out, or null
     */
    private void generate(HttpExchange ex, boolean chat, String idPrefix, List<int[]> prompts, GenerationSpec spec, String promptParam,
                          GenerationRequest.CacheHint cache, ObjectNode memory, Consumer<String> onComplete) {
        int maxLen = model.maxModelLen();
        List<Integer> maxTokens = new ArrayList<>();
        for (int[] prompt : prompts) {
            if (prompt.length >= maxLen) {
                throw ApiException.badRequest(promptParam, "This model's maximum context length is " + maxLen
                        + " tokens. However, your request has " + prompt.length + " input tokens, which leaves no room to generate.");
            }
            if (spec.maxTokens() != null && prompt.length + spec.maxTokens() > maxLen) {
                throw ApiException.badRequest(spec.maxTokensParam(), "This model's maximum context length is "
                        + maxLen + " tokens. However, you requested " + (prompt.length + spec.maxTokens()) + " tokens ("
                        + prompt.length + " in the input, " + spec.maxTokens() + " for the completion).");
            }
            maxTokens.add(spec.maxTokens() != null ? spec.maxTokens() : maxLen - prompt.length);
        }
        ex.admission().chargePromptTokens(prompts.stream().mapToLong(p -> p.length).sum());
        String id = idPrefix + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        GenerationResponder responder = new GenerationResponder(ex, chat, id, System.currentTimeMillis() / 1000,
                model.name(), spec, prompts.size(), memory, onComplete);
        long deadline = System.nanoTime() + requestTimeoutNanos;
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            requests.add(new GenerationRequest(id + "-" + i, prompts.get(i), spec.n(), maxTokens.get(i), spec.stop(),
                    spec.ignoreEos(), spec.sampling(), deadline, responder.sink(i), ex.tenant(), cache));
        }
        Runnable abort = () -> requests.forEach(r -> engine.abort(r.id()));
        ex.onCancel(abort);
        // One part failing (deadline, engine error) ends the response: the other parts stop too.
        responder.onFailure(abort);
        if (!engine.submit(requests)) {
            throw ApiException.overloaded("The waiting queue is full (" + engine.config().maxWaitingRequests() + " requests); retry shortly");
        }
        // The client may have left while this request was being prepared: the channel's cancel hook
        // ran before it was set, so abort here (aborts queue behind the submits).
        if (ex.isCancelled()) abort.run();
        else responder.begin();
    }

    private void tokenize(HttpExchange ex, byte[] body) {
        ObjectNode o = Json.parseObject(body);
        checkModel(Json.optString(o, "model"));
        int[] tokens;
        if (o.hasNonNull("messages")) {
            // The whole count, also past the context (that is what a client asks /tokenize for); a huge
            // body runs on the large-body lane, never in the way of small requests.
            ChatRequest chat = parser.chat(body);
            try {
                tokens = model.encodeChat(chat.messages(), chat.tools());
            } catch (ChatTemplateException | IllegalArgumentException e) {
                throw ApiException.badRequest("messages", e.getMessage());
            }
        } else {
            String prompt = Json.optString(o, "prompt");
            if (prompt == null) throw ApiException.badRequest("prompt", "'prompt' (a string) or 'messages' is required");
            tokens = model.tokenizer().encode(prompt, Json.optBool(o, "add_special_tokens", true), false);
        }
        ObjectNode out = Json.MAPPER.createObjectNode().put("count", tokens.length).put("max_model_len", model.maxModelLen());
        ArrayNode arr = out.putArray("tokens");
        for (int t : tokens) arr.add(t);
        ex.sendJson(HttpResponseStatus.OK, out);
    }

    private void detokenize(HttpExchange ex, byte[] body) {
        ObjectNode o = Json.parseObject(body);
        checkModel(Json.optString(o, "model"));
        JsonNode tokens = o.get("tokens");
        if (tokens == null || !tokens.isArray()) throw ApiException.badRequest("tokens", "'tokens' must be a list of token ids");
        int[] ids = checkTokenIds(RequestParser.tokenIds(tokens, "tokens"), "tokens");
        ex.sendJson(HttpResponseStatus.OK, Json.MAPPER.createObjectNode().put("prompt", model.tokenizer().decode(ids)));
    }

    /**
     * The template may refuse a conversation (roles out of order), and the encoder text it cannot
     * mark (every private-use character taken): the client's error, not ours. A prompt that cannot fit
     * is refused as soon as that is known, before it is encoded whole.
     */
    private int[] encodeChat(List<ChatRequest.Message> messages, List<Object> tools, boolean withMemory) {
        try {
            try {
                return model.encodeRequestChat(messages, tools);
            } catch (ChatTemplateException e) {
                if (!withMemory) throw e;
                // A template that takes one system message only: the memory block joins the system prompt.
                return model.encodeRequestChat(ChatMemory.foldSystem(messages), tools);
            }
        } catch (PromptTooLongException e) {
            throw tooLong("messages", e);
        } catch (ChatTemplateException | IllegalArgumentException e) {
            throw ApiException.badRequest("messages", e.getMessage());
        }
    }

    private int[] encodeText(String text) {
        try {
            return model.encodeRequestText(text);
        } catch (PromptTooLongException e) {
            throw tooLong("prompt", e);
        }
    }

    private ApiException tooLong(String param, PromptTooLongException e) {
        return ApiException.badRequest(param, "This model's maximum context length is " + model.maxModelLen()
                + " tokens. However, your request has " + (e.exact() ? "" : "at least ") + e.atLeast()
                + " input tokens, which leaves no room to generate.");
    }

    private int[] checkTokenIds(int[] ids, String param) {
        int vocab = model.tokenizer().vocabSize();
        for (int id : ids) {
            if (id < 0 || id >= vocab) {
                throw ApiException.badRequest(param, "token id " + id + " is outside the vocabulary [0, " + vocab + ")");
            }
        }
        return ids;
    }

    private void checkModel(String requested) {
        if (requested != null && !requested.equals(model.name())) {
            throw ApiException.notFound("model", "model_not_found", "The model '" + Json.abbreviate(requested)
                    + "' does not exist; this server serves '" + model.name() + "'");
        }
    }

    /** Stops the worker pool; requests still in it are dropped. */
    public void shutdown() {
        workers.shutdownNow();
        largeBodies.shutdownNow();
        try {
            workers.awaitTermination(2, TimeUnit.SECONDS);
            largeBodies.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
