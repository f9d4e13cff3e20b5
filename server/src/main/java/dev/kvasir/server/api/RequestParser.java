package dev.kvasir.server.api;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.template.ChatMessage;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Set;
import java.util.StringJoiner;

import static dev.kvasir.server.api.Json.optBool;
import static dev.kvasir.server.api.Json.optInt;
import static dev.kvasir.server.api.Json.optLong;
import static dev.kvasir.server.api.Json.optNumber;
import static dev.kvasir.server.api.Json.optPositiveFloat;
import static dev.kvasir.server.api.Json.optString;
import static dev.kvasir.server.api.Json.optStringOrList;

/**
 * Turns request bodies into validated records. Ranges follow OpenAI's documentation (and vLLM's for
 * the extra sampling fields); every refusal names the parameter.
 */
public final class RequestParser {

    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");
    /** OpenAI's limit on {@code stop}: the matcher holds back up to the longest, so both are bounded. */
    static final int MAX_STOP = 4;
    static final int MAX_STOP_CHARS = 256;
    private static final int MAX_TOOLS = 128;

    private final int maxN;

    /** @param maxN the largest {@code n} accepted: all choices of a request must fit one batch */
    public RequestParser(int maxN) {
        this.maxN = maxN;
    }

    public ChatRequest chat(byte[] body) {
        ObjectNode o = Json.parseObject(body);
        JsonNode messagesNode = o.get("messages");
        if (messagesNode == null || !messagesNode.isArray() || messagesNode.isEmpty()) {
            throw ApiException.badRequest("messages", "'messages' must be a non-empty list");
        }
        List<ChatRequest.Message> messages = new ArrayList<>();
        for (JsonNode m : messagesNode) messages.add(message(m));
        // max_completion_tokens replaces the deprecated max_tokens; the newer one wins when both are sent.
        String maxTokensParam = o.hasNonNull("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        Integer maxTokens = optInt(o, "max_completion_tokens", 1, Integer.MAX_VALUE);
        if (maxTokens == null) maxTokens = optInt(o, "max_tokens", 1, Integer.MAX_VALUE);
        boolean logprobs = optBool(o, "logprobs", false);
        Integer top = optInt(o, "top_logprobs", 0, 20);
        if (top != null && top > 0 && !logprobs) {
            throw ApiException.badRequest("top_logprobs", "'top_logprobs' needs 'logprobs': true");
        }
        return new ChatRequest(optString(o, "model"), messages, tools(o.get("tools")),
                spec(o, maxTokens, maxTokensParam, logprobs, top == null ? 0 : top), optString(o, "user"), memory(o.get("memory")));
    }

    public CompletionRequest completion(byte[] body) {
        ObjectNode o = Json.parseObject(body);
        List<CompletionRequest.Prompt> prompts = prompts(o.get("prompt"));
        if (optBool(o, "echo", false)) throw ApiException.badRequest("echo", "'echo' is not supported");
        if (optString(o, "suffix") != null) throw ApiException.badRequest("suffix", "'suffix' is not supported");
        Integer maxTokens = optInt(o, "max_tokens", 1, Integer.MAX_VALUE);
        // Completions' logprobs is a count of alternatives; 0 still returns the chosen tokens'.
        Integer logprobs = optInt(o, "logprobs", 0, 20);
        return new CompletionRequest(optString(o, "model"), prompts,
                spec(o, maxTokens == null ? 16 : maxTokens, "max_tokens", logprobs != null, logprobs == null ? 0 : logprobs),
                optString(o, "user"));
    }

    private GenerationSpec spec(ObjectNode o, Integer maxTokens, String maxTokensParam, boolean logprobs, int topLogprobs) {
        Integer n = optInt(o, "n", 1, maxN);
        boolean stream = optBool(o, "stream", false);
        boolean includeUsage = false;
        JsonNode so = o.get("stream_options");
        if (so != null && !so.isNull()) {
            if (!(so instanceof ObjectNode options)) throw ApiException.badRequest("stream_options", "'stream_options' must be an object");
            if (!stream) throw ApiException.badRequest("stream_options", "'stream_options' is only allowed with 'stream': true");
            includeUsage = optBool(options, "include_usage", false);
        }
        Integer topK = optInt(o, "top_k", -1, Integer.MAX_VALUE);
        List<String> stop = optStringOrList(o, "stop", MAX_STOP);
        for (String s : stop) {
            if (s.length() > MAX_STOP_CHARS) {
                throw ApiException.badRequest("stop", "each 'stop' string may have at most " + MAX_STOP_CHARS
                        + " characters, got " + s.length());
            }
        }
        SamplingParams sampling = new SamplingParams(
                (float) optNumber(o, "temperature", 0, 2, 1),
                optPositiveFloat(o, "top_p", 1, 1),
                topK == null || topK <= 0 ? 0 : topK,
                (float) optNumber(o, "min_p", 0, 1, 0),
                optLong(o, "seed"),
                optPositiveFloat(o, "repetition_penalty", 2, 1),
                (float) optNumber(o, "presence_penalty", -2, 2, 0),
                (float) optNumber(o, "frequency_penalty", -2, 2, 0),
                logprobs ? topLogprobs : -1);
        return new GenerationSpec(n == null ? 1 : n, maxTokens, maxTokensParam, stop, stream, includeUsage,
                optBool(o, "ignore_eos", false), sampling);
    }

    private static final Set<String> MEMORY_FIELDS = Set.of("session_id", "enabled", "top_k", "max_tokens", "history", "write",
            "pin_prefix");

    /** The {@code memory} object; unknown fields are refused (a typo must not silently turn a feature off). */
    private static MemoryOptions memory(JsonNode node) {
        if (node == null || node.isNull()) return MemoryOptions.DEFAULT;
        if (!(node instanceof ObjectNode m)) throw ApiException.badRequest("memory", "'memory' must be an object");
        for (var it = m.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!MEMORY_FIELDS.contains(f)) {
                throw ApiException.badRequest("memory." + Json.abbreviate(f, 40), "unknown field '" + Json.abbreviate(f, 40)
                        + "' in 'memory' (known: " + new java.util.TreeSet<>(MEMORY_FIELDS) + ")");
            }
        }
        String history = optString(m, "history");
        if (history != null && !history.equals("client") && !history.equals("server")) {
            throw ApiException.badRequest("memory.history", "'memory.history' must be 'client' or 'server'");
        }
        Integer pin = null;
        JsonNode p = m.get("pin_prefix");
        if (p != null && !p.isNull()) {
            if (p.isBoolean()) pin = p.asBoolean() ? DEFAULT_PIN_SECONDS : null;
            else if (p.canConvertToInt() && p.isIntegralNumber() && p.asInt() >= 1 && p.asInt() <= MAX_PIN_SECONDS) pin = p.asInt();
            else throw ApiException.badRequest("memory.pin_prefix", "'memory.pin_prefix' must be true or a number of seconds in 1.."
                    + MAX_PIN_SECONDS);
        }
        try {
            return new MemoryOptions(optString(m, "session_id"), optBool(m, "enabled", true), optInt(m, "top_k", 1, 100),
                    optInt(m, "max_tokens", 1, Integer.MAX_VALUE), "server".equals(history), optBool(m, "write", true), pin);
        } catch (ApiException e) {
            throw ApiException.badRequest("memory." + e.param(), e.getMessage());
        }
    }

    /** {@code pin_prefix: true}: five minutes. */
    static final int DEFAULT_PIN_SECONDS = 300;
    static final int MAX_PIN_SECONDS = 24 * 3600;

    private static ChatRequest.Message message(JsonNode m) {
        if (!(m instanceof ObjectNode o)) throw ApiException.badRequest("messages", "each message must be an object");
        String role = optString(o, "role");
        if (role == null || !ROLES.contains(role)) {
            throw ApiException.badRequest("messages", "message role must be one of " + ROLES + ", got " + Json.abbreviate(role));
        }
        String name = optString(o, "name");
        String toolCallId = optString(o, "tool_call_id");
        if (role.equals("tool") && toolCallId == null) {
            throw ApiException.badRequest("messages", "a tool message needs 'tool_call_id'");
        }
        JsonNode content = o.get("content");
        String text;
        if (content == null || content.isNull()) {
            // An assistant turn that only called tools has no content.
            if (!role.equals("assistant")) throw ApiException.badRequest("messages", "a " + role + " message needs 'content'");
            text = "";
        } else if (content.isTextual()) {
            text = content.textValue();
        } else if (content.isArray()) {
            // Text parts join with a newline, as vLLM joins them.
            StringJoiner sb = new StringJoiner("\n");
            for (JsonNode part : content) {
                if (!(part instanceof ObjectNode p) || !"text".equals(optString(p, "type"))) {
                    throw ApiException.badRequest("messages", "only content parts of type 'text' are supported");
                }
                String t = optString(p, "text");
                if (t == null) throw ApiException.badRequest("messages", "a text content part needs 'text'");
                sb.add(t);
            }
            text = sb.toString();
        } else {
            throw ApiException.badRequest("messages", "message content must be a string or a list of text parts");
        }
        List<ChatMessage.ToolCall> toolCalls = toolCalls(o.get("tool_calls"), role);
        // OpenAI's developer messages take the place of system messages; templates know only the latter.
        return new ChatRequest.Message(role.equals("developer") ? "system" : role, text, name, toolCallId, toolCalls);
    }

    /**
     * An assistant's {@code tool_calls}: {@code [{id, type: "function", function: {name, arguments}}]}
     * with {@code arguments} a JSON-encoded object, parsed here as vLLM parses it, since templates
     * write it back with {@code tojson}.
     */
    private static List<ChatMessage.ToolCall> toolCalls(JsonNode calls, String role) {
        if (calls == null || calls.isNull()) return List.of();
        if (!role.equals("assistant")) throw ApiException.badRequest("messages", "only assistant messages may have 'tool_calls'");
        if (!calls.isArray()) throw ApiException.badRequest("messages", "'tool_calls' must be a list");
        List<ChatMessage.ToolCall> out = new ArrayList<>();
        for (JsonNode call : calls) {
            if (!(call instanceof ObjectNode c)) throw ApiException.badRequest("messages", "each tool call must be an object");
            String type = optString(c, "type");
            if (type != null && !type.equals("function")) {
                throw ApiException.badRequest("messages", "tool call type must be 'function', got " + Json.abbreviate(type));
            }
            if (!(c.get("function") instanceof ObjectNode f)) throw ApiException.badRequest("messages", "a tool call needs a 'function' object");
            String name = optString(f, "name");
            if (name == null || name.isEmpty()) throw ApiException.badRequest("messages", "a tool call's function needs a 'name'");
            out.add(new ChatMessage.ToolCall(optString(c, "id"), name, arguments(f.get("arguments"))));
        }
        return out;
    }

    /** A call's arguments: a JSON object encoded as a string (OpenAI's form), or the object itself. */
    private static Object arguments(JsonNode arguments) {
        if (arguments == null || arguments.isNull()) return new LinkedHashMap<String, Object>();
        JsonNode parsed = arguments;
        if (arguments.isTextual()) {
            try {
                parsed = Json.MAPPER.readTree(arguments.textValue());
            } catch (JacksonException e) {
                throw ApiException.badRequest("messages", "a tool call's 'arguments' must be a JSON object, got "
                        + Json.abbreviate(arguments.textValue()));
            }
        }
        if (parsed == null || !parsed.isObject()) {
            throw ApiException.badRequest("messages", "a tool call's 'arguments' must be a JSON object");
        }
        return Json.MAPPER.convertValue(parsed, Object.class);
    }

    /** {@code tools}: function definitions, passed to the template as they came; null when absent or empty. */
    private static List<Object> tools(JsonNode tools) {
        if (tools == null || tools.isNull()) return null;
        if (!tools.isArray()) throw ApiException.badRequest("tools", "'tools' must be a list");
        if (tools.size() > MAX_TOOLS) throw ApiException.badRequest("tools", "'tools' takes at most " + MAX_TOOLS + " items");
        if (tools.isEmpty()) return null;
        List<Object> out = new ArrayList<>();
        for (JsonNode tool : tools) {
            if (!(tool instanceof ObjectNode t) || !"function".equals(t.path("type").textValue())
                    || !(t.get("function") instanceof ObjectNode f) || !f.path("name").isTextual() || f.path("name").textValue().isEmpty()) {
                throw ApiException.badRequest("tools", "each tool must be {\"type\": \"function\", \"function\": {\"name\": ...}}");
            }
            out.add(Json.MAPPER.convertValue(t, Object.class));
        }
        return out;
    }

    private static List<CompletionRequest.Prompt> prompts(JsonNode p) {
        String wrong = "'prompt' must be a string, a list of token ids, or a non-empty list of either";
        if (p == null || p.isNull()) throw ApiException.badRequest("prompt", "'prompt' is required");
        List<CompletionRequest.Prompt> out = new ArrayList<>();
        if (p.isTextual()) {
            out.add(new CompletionRequest.Prompt(p.textValue(), null));
        } else if (p.isArray() && !p.isEmpty() && p.get(0).isNumber()) {
            out.add(new CompletionRequest.Prompt(null, tokenIds(p, "prompt")));
        } else if (p.isArray() && !p.isEmpty()) {
            for (JsonNode item : p) {
                if (item.isTextual()) out.add(new CompletionRequest.Prompt(item.textValue(), null));
                else if (item.isArray() && !item.isEmpty()) out.add(new CompletionRequest.Prompt(null, tokenIds(item, "prompt")));
                else throw ApiException.badRequest("prompt", wrong);
            }
        } else {
            throw ApiException.badRequest("prompt", wrong);
        }
        return out;
    }

    /** Token ids as ints, refusals naming {@code param}; the vocabulary range is checked later, where the tokenizer is known. */
    public static int[] tokenIds(JsonNode array, String param) {
        int[] ids = new int[array.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode t = array.get(i);
            if (!t.isIntegralNumber() || !t.canConvertToInt()) {
                throw ApiException.badRequest(param, "token ids must be integers, got " + Json.abbreviate(t));
            }
            ids[i] = t.intValue();
        }
        return ids;
    }
}
