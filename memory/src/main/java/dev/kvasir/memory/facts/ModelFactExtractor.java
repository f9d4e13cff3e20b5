package dev.kvasir.memory.facts;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.memory.MemoryModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Facts the served model finds ({@code --memory-extractor model}): one fixed prompt asks for a JSON
 * array, and the answer is read defensively. A model too small to follow the prompt (prose, half a
 * JSON document, wrong types, made-up keys) yields nothing, never an error or a half-written fact:
 * only items with a well-formed {@code user.*} key and a short one-line value pass, and a model's
 * confidence is capped below the rules' (it is the less precise reader).
 */
public final class ModelFactExtractor implements FactExtractor {
    private static final Logger LOG = LoggerFactory.getLogger(ModelFactExtractor.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern KEY = Pattern.compile("user(\\.[a-z0-9_-]{1,40}){1,2}");
    private static final int MAX_TOKENS = 160;
    private static final int MAX_FACTS = 16;
    private static final int MAX_MESSAGE_CHARS = 2000;
    static final double MAX_CONFIDENCE = 0.8;

    static final String PROMPT = """
            Extract the facts the user states about themselves in the message below.
            Answer with a JSON array only, no other text. Each item: {"key": "user.ATTRIBUTE", "value": "...",\
             "confidence": 0.0 to 1.0, "correction": true if the user corrects something said before}.
            Keys look like user.name, user.age, user.home_city, user.job, user.employer, user.preference.TOPIC,\
             user.favorite_THING, user.RELATION_name. Leave out questions, negations, wishes and facts about other people.
            If there are none, answer [].
            Message: %s""";

    private final Supplier<MemoryModel> model;

    /** @param model the served model, or null while none is attached (then nothing is found) */
    public ModelFactExtractor(Supplier<MemoryModel> model) {
        this.model = model;
    }

    @Override
    public List<Fact> extract(String message, FactContext context) {
        MemoryModel m = model.get();
        if (m == null || message == null || message.isBlank()) return List.of();
        String quoted = JSON.valueToTree(message.length() > MAX_MESSAGE_CHARS ? message.substring(0, MAX_MESSAGE_CHARS) : message).toString();
        try {
            return parse(m.complete(PROMPT.formatted(quoted), MAX_TOKENS));
        } catch (RuntimeException e) {
            LOG.debug("the model fact extractor got no answer: {}", e.toString());
            return List.of();
        }
    }

    /** The facts in a model's answer: the first JSON array in it, each item checked; anything malformed is left out. */
    static List<Fact> parse(String answer) {
        if (answer == null) return List.of();
        String array = firstArray(answer);
        if (array == null) return List.of();
        JsonNode root;
        try {
            root = JSON.readTree(array);
        } catch (JsonProcessingException e) {
            return List.of();
        }
        List<Fact> out = new ArrayList<>();
        for (JsonNode item : root) {
            if (out.size() == MAX_FACTS) break;
            Fact f = fact(item);
            if (f != null && out.stream().noneMatch(o -> o.key().equals(f.key()))) out.add(f);
        }
        return out;
    }

    private static Fact fact(JsonNode item) {
        if (!item.isObject() || !item.path("key").isTextual() || !item.path("value").isTextual()) return null;
        String key = item.get("key").asText().strip().toLowerCase(Locale.ROOT);
        String value = item.get("value").asText().strip();
        if (!KEY.matcher(key).matches()) return null;
        if (value.isEmpty() || value.length() > 120 || value.chars().anyMatch(c -> c == '\n' || c == '{' || c == '[' || c < 0x20)) return null;
        JsonNode c = item.path("confidence");
        double confidence = c.isNumber() && c.asDouble() >= 0 && c.asDouble() <= 1 ? c.asDouble() : 0.6;
        boolean correction = item.path("correction").isBoolean() && item.get("correction").asBoolean();
        return new Fact(key, value, FactKeys.statement(key, value), Math.min(confidence, MAX_CONFIDENCE), correction, false, 0.6);
    }

    /** The text of the first balanced [...] (strings respected), or null. */
    private static String firstArray(String s) {
        int start = s.indexOf('[');
        if (start < 0) return null;
        int depth = 0;
        boolean inString = false;
        for (int i = start; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (inString) {
                if (ch == '\\') i++;
                else if (ch == '"') inString = false;
            } else if (ch == '"') {
                inString = true;
            } else if (ch == '[') {
                depth++;
            } else if (ch == ']' && --depth == 0) {
                return s.substring(start, i + 1);
            }
        }
        return null;
    }
}
