package dev.kvasir.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.server.engine.OutputSink;
import dev.kvasir.server.engine.RequestOutput;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Turns engine outputs into one HTTP response in OpenAI's shape: chat or text completion, streamed
 * as server-sent events or sent whole at the end. A completions request with several prompts runs
 * as several engine requests ("parts"); part p's choice i is {@code choices[p * n + i]}. A chat
 * request with tools reads each choice's text through a {@link ToolCallStream}: content and
 * {@code tool_calls} (streamed as OpenAI's tool-call deltas, the name once, then argument
 * fragments), finishing with {@code tool_calls}. Everything after the sink hand-off runs on the
 * channel's event loop.
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
    /** Per choice, its text read as content and tool calls; null when the text is the answer as it is. */
    private final ToolCallStream[] toolCalls;
    /** The {@code memory.unsupported} list for the first choice's text ({@code memory.verify}), or null. */
    private final Function<String, JsonNode> verify;

    /**
     * @param memory     the {@code memory} object the response (and a stream's first chunk) carries, or null
     * @param onComplete called with the first choice's whole text as a complete response ends (before its last bytes), or null
     * @param output     how the text is read: as it is, or as tool calls (chat only)
     * @param verify     gives {@code memory.unsupported} for the first choice's whole text (in the body, or a
     *                   stream's last chunk before usage), or null
     */
    GenerationResponder(HttpExchange exchange, boolean chat, String id, long created, String model,
                        GenerationSpec spec, int parts, ObjectNode memory, Consumer<String> onComplete, OutputPlan output,
                        Function<String, JsonNode> verify) {
        this.memory = memory;
        this.onComplete = onComplete;
        this.verify = verify;
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
        if (chat && output.tools() != OutputPlan.ToolOutput.NONE) {
            toolCalls = new ToolCallStream[choices];
            for (int i = 0; i < choices; i++) toolCalls[i] = new ToolCallStream(output.tools(), output.format());
        } else {
            toolCalls = null;
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
                if (index == 0 && (onComplete != null || verify != null)) texts[0].append(c.text()); // kept for these only
                if (toolCalls != null) {
                    streamPieces(index, c);
                    continue;
                }
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
            if (verify != null) {
                ObjectNode checked = envelope();
                checked.putArray("choices");
                checked.putObject("memory").set("unsupported", verify.apply(texts[0].toString()));
                exchange.event(Json.write(checked));
            }
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
            if (chat) {
                ObjectNode message = c.putObject("message").put("role", "assistant");
                if (toolCalls == null) message.put("content", texts[i].toString());
                else messageWithToolCalls(message, i);
            } else {
                c.put("text", texts[i].toString());
            }
            c.set("logprobs", spec.logprobs() ? logprobsJson(i, logprobs.get(i)) : null);
            c.put("finish_reason", finishReason(i, finishReasons[i]));
        }
        body.set("usage", usage());
        if (memory != null) {
            if (verify != null) memory.set("unsupported", verify.apply(texts[0].toString()));
            body.set("memory", memory);
        }
        completed();
        exchange.sendJson(HttpResponseStatus.OK, body);
    }

    /**
     * One output of a choice with tools, as the pieces its text completes: a chunk per piece (the
     * logprobs on the first, the finish reason on the last), or one empty chunk for logprobs or the
     * finish when the text completed none.
     */
    private void streamPieces(int index, RequestOutput.Choice c) {
        List<ToolCallStream.Piece> pieces = new ArrayList<>(toolCalls[index].push(c.text()));
        if (c.finishReason() != null) pieces.addAll(toolCalls[index].finish());
        String finish = finishReason(index, c.finishReason());
        ObjectNode lps = logprobsJson(index, c.logprobs());
        if (pieces.isEmpty()) {
            if (lps != null || finish != null) exchange.event(Json.write(chunk(index, Json.MAPPER.createObjectNode(), lps, finish)));
            return;
        }
        for (int k = 0; k < pieces.size(); k++) {
            exchange.event(Json.write(chunk(index, pieceDelta(pieces.get(k)), k == 0 ? lps : null, k == pieces.size() - 1 ? finish : null)));
        }
    }

    /** OpenAI's delta for one piece: content, a call's first delta (id, type, name), or more of its arguments. */
    private static ObjectNode pieceDelta(ToolCallStream.Piece piece) {
        ObjectNode d = Json.MAPPER.createObjectNode();
        switch (piece) {
            case ToolCallStream.Content c -> d.put("content", c.text());
            case ToolCallStream.CallStart s -> d.putArray("tool_calls").addObject().put("index", s.index()).put("id", s.id())
                    .put("type", "function").putObject("function").put("name", s.name()).put("arguments", "");
            case ToolCallStream.Arguments a -> d.putArray("tool_calls").addObject().put("index", a.index())
                    .putObject("function").put("arguments", a.fragment());
        }
        return d;
    }

    /** A whole response's message from the same pieces a stream would send: content (null when only calls) and tool_calls. */
    private void messageWithToolCalls(ObjectNode message, int index) {
        List<ToolCallStream.Piece> pieces = new ArrayList<>(toolCalls[index].push(texts[index].toString()));
        pieces.addAll(toolCalls[index].finish());
        StringBuilder content = new StringBuilder();
        List<ObjectNode> functions = new ArrayList<>();
        List<StringBuilder> arguments = new ArrayList<>();
        ArrayNode calls = Json.MAPPER.createArrayNode();
        for (ToolCallStream.Piece piece : pieces) {
            switch (piece) {
                case ToolCallStream.Content c -> content.append(c.text());
                case ToolCallStream.CallStart s -> {
                    functions.add(calls.addObject().put("id", s.id()).put("type", "function").putObject("function").put("name", s.name()));
                    arguments.add(new StringBuilder());
                }
                case ToolCallStream.Arguments a -> arguments.get(a.index()).append(a.fragment());
            }
        }
        for (int k = 0; k < functions.size(); k++) functions.get(k).put("arguments", arguments.get(k).toString());
        if (calls.isEmpty()) {
            message.put("content", content.toString());
        } else {
            message.put("content", content.isEmpty() ? null : content.toString());
            message.set("tool_calls", calls);
        }
    }

    /** A choice that ended by itself after calling tools finishes with {@code tool_calls}, as OpenAI's do. */
    private String finishReason(int index, String reason) {
        return toolCalls != null && "stop".equals(reason) && toolCalls[index].hasCalls() ? "tool_calls" : reason;
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
