package dev.kvasir.server.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.memory.Memory;
import dev.kvasir.memory.MemoryEvent;
import dev.kvasir.memory.MemoryInputException;
import dev.kvasir.memory.MemoryNotFoundException;
import dev.kvasir.memory.MemoryPage;
import dev.kvasir.memory.MemoryPatch;
import dev.kvasir.memory.MemoryService;
import dev.kvasir.memory.MemoryStoreException;
import dev.kvasir.memory.NewMemory;
import dev.kvasir.memory.Scope;
import dev.kvasir.memory.SearchHit;
import dev.kvasir.memory.SearchRequest;
import dev.kvasir.memory.SearchResult;
import dev.kvasir.memory.Tier;
import dev.kvasir.memory.TokenCounter;
import dev.kvasir.memory.search.Embedder;
import io.netty.handler.codec.http.HttpResponseStatus;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The memory endpoints ({@code /v1/memories...}) and {@code /v1/embeddings}, in OpenAI's JSON and
 * error shapes. Every call acts for the authenticated tenant and the request's {@code user}, which
 * is required wherever it appears (a body field, or {@code ?user=} on the id routes): no id, cursor
 * or query reaches another tenant's or user's memories. Bad input is refused with a 400 naming the
 * parameter and writes nothing.
 */
final class MemoryApi {

    private final MemoryService memory;
    private final TokenCounter counter;

    MemoryApi(MemoryService memory, TokenCounter counter) {
        this.memory = memory;
        this.counter = counter;
    }

    /** Runs one memory call, turning the memory layer's exceptions into API errors. */
    static <T> T call(Supplier<T> call) {
        try {
            return call.get();
        } catch (MemoryInputException e) {
            throw ApiException.badRequest(e.param(), e.getMessage());
        } catch (MemoryNotFoundException e) {
            throw ApiException.notFound("id", "memory_not_found", e.getMessage());
        } catch (MemoryStoreException e) {
            throw new ApiException(HttpResponseStatus.SERVICE_UNAVAILABLE, "server_error", null, "memory_store_unavailable",
                    "The memory store is unavailable: " + e.getMessage());
        }
    }

    // ---- routes ----------------------------------------------------------------------------------

    /** {@code POST /v1/memories}: 201 with the stored memory. */
    void create(HttpExchange ex, byte[] body) {
        ObjectNode o = Json.parseObject(body);
        String user = user(o);
        NewMemory m = new NewMemory(Json.optString(o, "content"), scope(o), Json.optString(o, "session_id"),
                Json.optString(o, "fact_key"), unit(o, "importance"), unit(o, "confidence"), optBoolean(o, "correction"),
                tier(o), Json.optString(o, "turn_id"), instant(o, "source_time"), metadata(o), instant(o, "valid_at"));
        Memory stored = call(() -> memory.add(ex.tenant(), user, m));
        ex.sendJson(HttpResponseStatus.CREATED, memoryJson(stored));
    }

    /** {@code GET /v1/memories?user=&limit=&cursor=}: one page, oldest first. */
    void list(HttpExchange ex, Map<String, String> query) {
        String user = queryUser(query);
        int limit = queryInt(query, "limit", 20);
        MemoryPage page = call(() -> memory.list(ex.tenant(), user, limit, query.get("cursor")));
        ObjectNode out = Json.MAPPER.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        for (Memory m : page.data()) data.add(memoryJson(m));
        out.put("next_cursor", page.nextCursor());
        out.put("has_more", page.nextCursor() != null);
        ex.sendJson(HttpResponseStatus.OK, out);
    }

    /** {@code GET /v1/memories/{id}?user=}. */
    void get(HttpExchange ex, String id, Map<String, String> query) {
        String user = queryUser(query);
        ex.sendJson(HttpResponseStatus.OK, memoryJson(call(() -> memory.get(ex.tenant(), user, id))));
    }

    /** {@code PATCH /v1/memories/{id}}: the fields given change, the rest stay. */
    void patch(HttpExchange ex, String id, byte[] body) {
        ObjectNode o = Json.parseObject(body);
        String user = user(o);
        MemoryPatch p = new MemoryPatch(Json.optString(o, "content"), unit(o, "importance"), unit(o, "confidence"),
                optBoolean(o, "correction"), tier(o), Json.optString(o, "fact_key"), metadata(o), instant(o, "valid_at"),
                instant(o, "invalid_at"), Json.optString(o, "invalidated_by"));
        if (p.isEmpty()) throw ApiException.badRequest(null, "nothing to change: give at least one field besides 'user'");
        ex.sendJson(HttpResponseStatus.OK, memoryJson(call(() -> memory.patch(ex.tenant(), user, id, p))));
    }

    /** {@code DELETE /v1/memories/{id}?user=}: an explicit forget of one memory. */
    void delete(HttpExchange ex, String id, Map<String, String> query) {
        String user = queryUser(query);
        call(() -> {
            memory.delete(ex.tenant(), user, id);
            return null;
        });
        ex.sendJson(HttpResponseStatus.OK, Json.MAPPER.createObjectNode().put("id", id).put("object", "memory.deleted").put("deleted", true));
    }

    /** {@code DELETE /v1/memories?user=}: forgets the user entirely (rows, vectors, index entries, history). */
    void forgetUser(HttpExchange ex, Map<String, String> query) {
        String user = queryUser(query);
        int n = call(() -> memory.forgetUser(ex.tenant(), user));
        ex.sendJson(HttpResponseStatus.OK, Json.MAPPER.createObjectNode().put("object", "memory.user.deleted")
                .put("user", user).put("deleted", n));
    }

    /** {@code GET /v1/memories/{id}/history?user=}: every change, oldest first. */
    void history(HttpExchange ex, String id, Map<String, String> query) {
        String user = queryUser(query);
        List<MemoryEvent> events = call(() -> memory.history(ex.tenant(), user, id));
        ObjectNode out = Json.MAPPER.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        for (MemoryEvent e : events) {
            ObjectNode j = data.addObject().put("object", "memory.event").put("memory_id", e.memoryId())
                    .put("event", e.kind().name().toLowerCase(java.util.Locale.ROOT)).put("at", e.at().toString()).put("by", e.by());
            ObjectNode changes = j.putObject("changes");
            e.changes().forEach(changes::put);
        }
        ex.sendJson(HttpResponseStatus.OK, out);
    }

    /**
     * {@code POST /v1/memories/search}: the memories in the order and form they would be injected,
     * each with its score (fused), similarity and lexical score, and the rendered block.
     */
    void search(HttpExchange ex, byte[] body) {
        ObjectNode o = Json.parseObject(body);
        String user = user(o);
        Integer k = Json.optInt(o, "k", Integer.MIN_VALUE, Integer.MAX_VALUE);
        Integer maxTokens = Json.optInt(o, "max_tokens", Integer.MIN_VALUE, Integer.MAX_VALUE);
        Set<Tier> tiers = null;
        JsonNode t = o.get("tiers");
        if (t != null && !t.isNull()) {
            if (!t.isArray()) throw ApiException.badRequest("tiers", "'tiers' must be a list of core, recent, archive");
            tiers = EnumSet.noneOf(Tier.class);
            for (JsonNode v : t) tiers.add(call(() -> Tier.parse(v.asText(), "tiers")));
        }
        SearchRequest request = new SearchRequest(Json.optString(o, "query"), k == null ? 10 : k, maxTokens,
                Json.optString(o, "session_id"), instant(o, "as_of"), tiers, Json.optBool(o, "include_invalid", false), null);
        SearchResult result = call(() -> memory.search(ex.tenant(), user, request, counter));
        ObjectNode out = Json.MAPPER.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        for (SearchHit h : result.hits()) {
            ObjectNode j = memoryJson(h.memory());
            j.put("score", h.score()).put("similarity", h.similarity()).put("lexical_score", h.lexicalScore()).put("line", h.line());
            data.add(j);
        }
        out.put("block", result.block());
        out.put("tokens", result.tokens());
        ex.sendJson(HttpResponseStatus.OK, out);
    }

    /** {@code POST /v1/embeddings} as OpenAI defines it: string or list input, float or base64 vectors, usage. */
    void embeddings(HttpExchange ex, byte[] body) {
        ObjectNode o = Json.parseObject(body);
        String model = Json.optString(o, "model");
        if (model != null && !model.equals(Embedder.MODEL_NAME)) {
            throw ApiException.notFound("model", "model_not_found", "The embedding model '" + Json.abbreviate(model)
                    + "' does not exist; this server embeds with '" + Embedder.MODEL_NAME + "'");
        }
        String format = Json.optString(o, "encoding_format");
        if (format != null && !format.equals("float") && !format.equals("base64")) {
            throw ApiException.badRequest("encoding_format", "'encoding_format' must be 'float' or 'base64'");
        }
        Integer dimensions = Json.optInt(o, "dimensions", 1, Integer.MAX_VALUE);
        if (dimensions != null && dimensions != Embedder.DIMENSION) {
            throw ApiException.badRequest("dimensions", Embedder.MODEL_NAME + " has " + Embedder.DIMENSION
                    + " dimensions and cannot shorten them");
        }
        List<String> inputs = embeddingInputs(o.get("input"));
        Embedder.Embedded embedded = call(() -> memory.embed(inputs));
        ObjectNode out = Json.MAPPER.createObjectNode().put("object", "list");
        ArrayNode data = out.putArray("data");
        for (int i = 0; i < embedded.vectors().size(); i++) {
            float[] v = embedded.vectors().get(i);
            ObjectNode e = data.addObject().put("object", "embedding").put("index", i);
            if ("base64".equals(format)) {
                // OpenAI's base64 form: the little-endian float32 bytes.
                ByteBuffer bytes = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float x : v) bytes.putFloat(x);
                e.put("embedding", Base64.getEncoder().encodeToString(bytes.array()));
            } else {
                ArrayNode values = e.putArray("embedding");
                for (float x : v) values.add(x);
            }
        }
        out.put("model", Embedder.MODEL_NAME);
        out.putObject("usage").put("prompt_tokens", embedded.tokens()).put("total_tokens", embedded.tokens());
        ex.sendJson(HttpResponseStatus.OK, out);
    }

    private static List<String> embeddingInputs(JsonNode input) {
        if (input == null || input.isNull()) throw ApiException.badRequest("input", "'input' is required");
        if (input.isTextual()) return List.of(input.asText());
        if (input.isArray()) {
            List<String> out = new ArrayList<>();
            for (JsonNode item : input) {
                if (!item.isTextual()) {
                    throw ApiException.badRequest("input", "'input' must be a string or a list of strings (token arrays are not supported)");
                }
                out.add(item.asText());
            }
            return out;
        }
        throw ApiException.badRequest("input", "'input' must be a string or a list of strings");
    }

    // ---- JSON -----------------------------------------------------------------------------------

    /** A memory as the API returns it: {@code "object": "memory"}, every field, times in ISO-8601. */
    static ObjectNode memoryJson(Memory m) {
        ObjectNode j = Json.MAPPER.createObjectNode();
        j.put("id", m.id()).put("object", "memory").put("user", m.user()).put("content", m.content())
                .put("scope", m.scope().apiName()).put("session_id", m.sessionId()).put("fact_key", m.factKey())
                .put("importance", m.importance()).put("confidence", m.confidence()).put("correction", m.correction())
                .put("tier", m.tier().apiName());
        ObjectNode source = j.putObject("source");
        source.put("session_id", m.source().sessionId()).put("turn_id", m.source().turnId()).put("time", time(m.source().time()));
        j.put("created_at", time(m.createdAt())).put("last_accessed_at", time(m.lastAccessedAt())).put("access_count", m.accessCount());
        ObjectNode meta = j.putObject("metadata");
        m.metadata().forEach(meta::put);
        j.put("valid_at", time(m.validAt())).put("invalid_at", time(m.invalidAt())).put("expired_at", time(m.expiredAt()))
                .put("invalidated_by", m.invalidatedBy()).put("summary_depth", m.summaryDepth());
        ArrayNode replaces = j.putArray("replaces");
        m.replaces().forEach(replaces::add);
        return j;
    }

    private static String time(Instant t) {
        return t == null ? null : t.toString();
    }

    // ---- request fields ---------------------------------------------------------------------------

    private static String user(ObjectNode o) {
        JsonNode u = o.get("user");
        if (u == null || u.isNull()) throw ApiException.badRequest("user", "'user' is required");
        if (!u.isTextual()) throw ApiException.badRequest("user", "'user' must be a string");
        return u.asText();
    }

    private static String queryUser(Map<String, String> query) {
        String user = query.get("user");
        if (user == null) throw ApiException.badRequest("user", "the query parameter 'user' is required");
        return user;
    }

    private static int queryInt(Map<String, String> query, String name, int fallback) {
        String v = query.get(name);
        if (v == null) return fallback;
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw ApiException.badRequest(name, "'" + name + "' must be an integer, got '" + Json.abbreviate(v) + "'");
        }
    }

    private static Scope scope(ObjectNode o) {
        String v = Json.optString(o, "scope");
        return v == null ? null : call(() -> Scope.parse(v, "scope"));
    }

    private static Tier tier(ObjectNode o) {
        String v = Json.optString(o, "tier");
        return v == null ? null : call(() -> Tier.parse(v, "tier"));
    }

    private static Double unit(ObjectNode o, String name) {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isNumber()) throw ApiException.badRequest(name, "'" + name + "' must be a number between 0 and 1");
        double d = v.asDouble();
        if (!(d >= 0 && d <= 1)) throw ApiException.badRequest(name, "'" + name + "' must be between 0 and 1, got " + d);
        return d;
    }

    private static Boolean optBoolean(ObjectNode o, String name) {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return null;
        if (!v.isBoolean()) throw ApiException.badRequest(name, "'" + name + "' must be true or false");
        return v.asBoolean();
    }

    private static Instant instant(ObjectNode o, String name) {
        JsonNode v = o.get(name);
        if (v == null || v.isNull()) return null;
        if (v.isNumber()) return Instant.ofEpochSecond(v.asLong()); // Unix seconds, as OpenAI's created fields
        if (!v.isTextual()) throw ApiException.badRequest(name, "'" + name + "' must be an ISO-8601 time or Unix seconds");
        try {
            return Instant.parse(v.asText());
        } catch (DateTimeParseException e) {
            throw ApiException.badRequest(name, "'" + name + "' must be an ISO-8601 time such as 2024-05-01T12:00:00Z, got '"
                    + Json.abbreviate(v.asText()) + "'");
        }
    }

    private static Map<String, String> metadata(ObjectNode o) {
        JsonNode v = o.get("metadata");
        if (v == null || v.isNull()) return null;
        if (!v.isObject()) throw ApiException.badRequest("metadata", "'metadata' must be an object of strings");
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw ApiException.badRequest("metadata", "metadata value of '" + Json.abbreviate(e.getKey()) + "' must be a string");
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }
}
