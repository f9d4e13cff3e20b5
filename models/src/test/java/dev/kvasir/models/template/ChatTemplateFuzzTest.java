package dev.kvasir.models.template;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.loader.FuzzSeeds;
import dev.kvasir.models.loader.GgufFile;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fuzz target for chat-template rendering and prompt encoding, on any conversation a client could
 * send (valid roles, any text in every field, tool calls with any arguments), through each built-in
 * template with a SentencePiece and a byte-level vocabulary. Rendering either succeeds or refuses
 * with {@link ChatTemplateException} (a role out of place); and message text never becomes a special
 * token: the special tokens of the prompt are exactly those of the same conversation with every
 * special-token string in its fields spelled otherwise.
 */
class ChatTemplateFuzzTest {

    private static final String[] ROLES = {"system", "user", "assistant", "tool"};

    private record Case(PromptEncoder encoder, Tokenizer tokenizer) {}

    private static final List<Case> CASES = cases();
    /** Every special-token string of the vocabularies, longest first. */
    private static final List<String> SPECIAL_STRINGS = CASES.stream().map(Case::tokenizer).distinct()
            .flatMap(t -> java.util.stream.IntStream.range(0, t.vocabSize()).filter(t::isSpecial).mapToObj(t::tokenString))
            .filter(s -> !s.isEmpty()).distinct().sorted((a, b) -> b.length() - a.length()).toList();

    private static List<Case> cases() {
        List<Tokenizer> tokenizers;
        try (GgufFile stories = GgufFile.open(ModelLocator.testModel("stories260K.gguf"))) {
            tokenizers = List.of(Tokenizers.fromGgufMetadata(stories.metadata(), stories.path()),
                    Tokenizers.fromGgufMetadata(FuzzSeeds.gpt2Vocabulary(), Path.of("fuzz-seed")));
        }
        List<Case> out = new ArrayList<>();
        for (Tokenizer t : tokenizers) {
            String bos = t.bosId() >= 0 ? t.tokenString(t.bosId()) : "";
            String eos = t.tokenString(t.stopTokenIds()[0]);
            for (BuiltInTemplates format : BuiltInTemplates.values()) {
                out.add(new Case(new PromptEncoder(ChatTemplate.builtIn(format, bos, eos), t), t));
            }
        }
        return out;
    }

    @FuzzTest(maxDuration = "10s")
    void conversation(FuzzedDataProvider data) {
        Case c = CASES.get(data.consumeInt(0, CASES.size() - 1));
        PromptEncoder encoder = c.encoder();
        boolean generationPrompt = data.consumeBoolean();
        int count = data.consumeInt(1, 5);
        List<ChatMessage> messages = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String role = ROLES[data.consumeInt(0, ROLES.length - 1)];
            String content = data.consumeBoolean() ? null : data.consumeString(200);
            String name = data.consumeBoolean() ? data.consumeString(20) : null;
            String callId = role.equals("tool") ? data.consumeString(20) : null;
            List<ChatMessage.ToolCall> calls = new ArrayList<>();
            if (role.equals("assistant") && data.consumeBoolean()) {
                Map<String, Object> arguments = new LinkedHashMap<>();
                arguments.put(data.consumeString(10), data.consumeString(40));
                calls.add(new ChatMessage.ToolCall(data.consumeString(10), "f" + data.consumeString(10), arguments));
            }
            messages.add(new ChatMessage(role, content, name, callId, calls));
        }
        int[] ids;
        try {
            ids = encoder.encode(messages, generationPrompt);
        } catch (ChatTemplateException refused) {
            return;
        }
        int[] neutral = encoder.encode(messages.stream().map(ChatTemplateFuzzTest::withoutSpecialStrings).toList(), generationPrompt);
        Tokenizer tokenizer = c.tokenizer();
        if (!Arrays.equals(specials(tokenizer, ids), specials(tokenizer, neutral))) {
            throw new AssertionError("message text became special tokens: " + Arrays.toString(specials(tokenizer, ids))
                    + " vs " + Arrays.toString(specials(tokenizer, neutral)) + " for " + messages);
        }
    }

    private static int[] specials(Tokenizer tokenizer, int[] ids) {
        return Arrays.stream(ids).filter(tokenizer::isSpecial).toArray();
    }

    /** The message with every special-token string of either vocabulary spelled with an 'x' instead. */
    private static ChatMessage withoutSpecialStrings(ChatMessage m) {
        return new ChatMessage(m.role(), plain(m.content()), plain(m.name()), plain(m.toolCallId()), m.toolCalls().stream()
                .map(c -> new ChatMessage.ToolCall(plain(c.id()), plain(c.name()), plainArguments(c.arguments()))).toList());
    }

    private static Object plainArguments(Object arguments) {
        if (!(arguments instanceof Map<?, ?> map)) return arguments;
        Map<String, Object> out = new LinkedHashMap<>();
        map.forEach((k, v) -> out.put(plain(String.valueOf(k)), v instanceof String s ? plain(s) : v));
        return out;
    }

    private static String plain(String s) {
        if (s == null) return null;
        for (String special : SPECIAL_STRINGS) s = s.replace(special, "x");
        return s;
    }
}
