package dev.kvasir.server.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.server.engine.OutputSink;
import dev.kvasir.server.engine.RequestOutput;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Turns engine outputs into one HTTP response in OpenAI's shape: chat or text completion, streamed
 * as server-sent events or sent whole at the end. A completions request with several prompts runs
 * as several engine requests ("parts"); part p's choice i is {@code choices[p * n + i]}. Everything
 * after the sink hand-off runs on the channel's event loop.
 */
final class GenerationResponder {

    private final HttpExchange exchange;
    private final boolean chat;
    private final String id;
    private final long created;
    private final String model;
    private final GenerationSpec spec;
    private final int parts;
    private final StringBuilder[] texts;
    private final List<List<RequestOutput.TokenLogprob>> logprobs = new ArrayList<>();
    private final String[] finishReasons;
    private final int[] textOffsets;
    private int partsDone;
    private int promptTokens;
    private int completionTokens;
    private int cachedTokens;
    private boolean begun;
    private Runnable onFailure = () -> {};
    /** The response's {@code memory} object (chat with agent memory), or null. */
    private final ObjectNode memory;
    /** Given the first choice's text once the response is complete, or null. */
    private final Consumer<String> onComplete;

    /**
     * @param memory     the {@code memory} object the response (and a stream's first chunk) carries, or null
     * @param onComplete called with the first choice's whole text as a complete response ends (before its last bytes), or null
     */
    GenerationResponder(HttpExchange exchange, boolean chat, String id, long created, String model,
                        GenerationSpec spec, int parts, ObjectNode memory, Consumer<String> onComplete) {
        this.memory = memory;
        this.onComplete = onComplete;
        this.exchange = exchange;
        this.chat = chat;
        this.id = id;
        this.created = created;
        this.model = model;
        this.spec = spec;
        this.parts = parts;
        int choices = parts * spec.n();
        this.texts = new StringBuilder[choices];
        this.finishReasons = new String[choices];
        this.textOffsets = new int[choices];
        for (int i = 0; i < choices; i++) {
            texts[i] = new StringBuilder();
            logprobs.add(new ArrayList<>());
        }
    }

    /** The sink for part {@code part}: hands each output to the event loop and returns. */
    OutputSink sink(int part) {
        return output -> exchange.execute(() -> onOutput(part, output));
    }

    /** Runs once when a part fails: the response ends with the error, so every other part is aborted. */
    void onFailure(Runnable abortAll) {
        this.onFailure = abortAll;
    }

    /** Sends the stream's headers and the chat role chunks; idempotent, on the event loop. */
    void begin() {
        exchange.execute(this::beginNow);
    }

    private void beginNow() {
        if (begun || exchange.ended() || !spec.stream()) return;
        begun = true;
        exchange.startStream();
        if (chat) {
            for (int i = 0; i < texts.length; i++) {
                ObjectNode delta = Json.MAPPER.createObjectNode().put("role", "assistant").put("content", "");
                ObjectNode first = chunk(i, delta, null, null);
                if (i == 0 && memory != null) first.set("memory", memory);
                exchange.event(Json.write(first));
            }
        }
    }

    private void onOutput(int part, RequestOutput out) {
        if (exchange.ended()) return;
        if (out.error() != null) {
            onFailure.run();
            exchange.sendError(switch (out.error().kind()) {
                case "deadline" -> new ApiException(HttpResponseStatus.GATEWAY_TIMEOUT, "timeout_error", null,
                        "deadline_exceeded", out.error().message());
                case "shutdown" -> new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", null,
                        "server_shutting_down", out.error().message());
                default -> new ApiException(HttpResponseStatus.INTERNAL_SERVER_ERROR, "server_error", null,
                        "engine_error", out.error().message());
            });
            return;
        }
        beginNow();
        // Each choice in an output advanced by one generated token.
        exchange.admission().chargeCompletionTokens(out.choices().size());
        for (RequestOutput.Choice c : out.choices()) {
            int index = part * spec.n() + c.index();
            if (spec.stream()) {
                if (index == 0 && onComplete != null) texts[0].append(c.text()); // kept for onComplete only
                if (c.text().isEmpty() && c.finishReason() == null && c.logprobs() == null) continue;
                exchange.event(Json.write(chunk(index, delta(c.text()), logprobsJson(index, c.logprobs()), c.finishReason())));
            } else {
                if (c.logprobs() != null) logprobs.get(index).addAll(c.logprobs());
                texts[index].append(c.text());
                if (c.finishReason() != null) finishReasons[index] = c.finishReason();
            }
        }
        if (out.usage() != null) {
            promptTokens += out.usage().promptTokens();
            completionTokens += out.usage().completionTokens();
            cachedTokens += out.usage().cachedTokens();
            if (++partsDone == parts) finish();
        }
    }

    private void finish() {
        exchange.admission().settleCompletionTokens(completionTokens);
        exchange.logDetail(id + " prompt=" + promptTokens + " completion=" + completionTokens + " cached=" + cachedTokens
                + (spec.stream() ? " stream" : ""));
        if (spec.stream()) {
            if (spec.includeUsage()) {
                ObjectNode last = envelope();
                last.putArray("choices");
                last.set("usage", usage());
                exchange.event(Json.write(last));
            }
            completed();
            exchange.endStream();
            return;
        }
        ObjectNode body = Json.MAPPER.createObjectNode();
        body.put("id", id).put("object", chat ? "chat.completion" : "text_completion").put("created", created).put("model", model);
        ArrayNode choices = body.putArray("choices");
        for (int i = 0; i < texts.length; i++) {
            ObjectNode c = choices.addObject().put("index", i);
            if (chat) c.putObject("message").put("role", "assistant").put("content", texts[i].toString());
            else c.put("text", texts[i].toString());
            c.set("logprobs", spec.logprobs() ? logprobsJson(i, logprobs.get(i)) : null);
            c.put("finish_reason", finishReasons[i]);
        }
        body.set("usage", usage());
        if (memory != null) body.set("memory", memory);
        completed();
        exchange.sendJson(HttpResponseStatus.OK, body);
    }

    /** Before the response's last bytes: a client that sends its next turn at once finds this one being recorded. */
    private void completed() {
        if (onComplete != null) onComplete.accept(texts[0].toString());
    }

    private ObjectNode envelope() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("id", id).put("object", chat ? "chat.completion.chunk" : "text_completion").put("created", created).put("model", model);
        return o;
    }

    private ObjectNode chunk(int index, ObjectNode delta, ObjectNode logprobs, String finishReason) {
        ObjectNode o = envelope();
        ObjectNode c = o.putArray("choices").addObject().put("index", index);
        if (chat) c.set("delta", delta);
        else c.put("text", delta.path("content").asText(""));
        c.set("logprobs", logprobs);
        c.put("finish_reason", finishReason);
        if (spec.includeUsage()) o.putNull("usage");
        return o;
    }

    private static ObjectNode delta(String text) {
        ObjectNode d = Json.MAPPER.createObjectNode();
        if (!text.isEmpty()) d.put("content", text);
        return d;
    }

    private ObjectNode usage() {
        ObjectNode u = Json.MAPPER.createObjectNode();
        u.put("prompt_tokens", promptTokens).put("completion_tokens", completionTokens)
                .put("total_tokens", promptTokens + completionTokens);
        u.putObject("prompt_tokens_details").put("cached_tokens", cachedTokens);
        return u;
    }

    /** Chat: {@code {"content":[...]}}; completions: the legacy parallel lists with text offsets. */
    private ObjectNode logprobsJson(int index, List<RequestOutput.TokenLogprob> lps) {
        if (lps == null) return null;
        ObjectNode o = Json.MAPPER.createObjectNode();
        if (chat) {
            ArrayNode content = o.putArray("content");
            for (RequestOutput.TokenLogprob t : lps) {
                ObjectNode e = content.addObject().put("token", t.token()).put("logprob", t.logprob());
                bytes(e, t.bytes());
                ArrayNode top = e.putArray("top_logprobs");
                for (int k = 0; k < Math.min(spec.topLogprobs(), t.top().size()); k++) {
                    RequestOutput.TopLogprob alt = t.top().get(k);
                    bytes(top.addObject().put("token", alt.token()).put("logprob", alt.logprob()), alt.bytes());
                }
            }
            return o;
        }
        ArrayNode tokens = o.putArray("tokens");
        ArrayNode tokenLogprobs = o.putArray("token_logprobs");
        ArrayNode top = o.putArray("top_logprobs");
        ArrayNode offsets = o.putArray("text_offset");
        for (RequestOutput.TokenLogprob t : lps) {
            tokens.add(t.token());
            tokenLogprobs.add(t.logprob());
            ObjectNode alts = top.addObject();
            for (int k = 0; k < Math.min(spec.topLogprobs(), t.top().size()); k++) {
                alts.put(t.top().get(k).token(), t.top().get(k).logprob());
            }
            offsets.add(textOffsets[index]);
            textOffsets[index] += t.token().length();
        }
        return o;
    }

    private static void bytes(ObjectNode o, byte[] b) {
        ArrayNode a = o.putArray("bytes");
        for (byte x : b) a.add(x & 0xff);
    }
}
