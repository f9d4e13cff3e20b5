package dev.kvasir.server;

import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.template.ChatTemplate;
import dev.kvasir.models.template.PromptEncoder;
import dev.kvasir.models.tokenizer.BoundedEncoder;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import dev.kvasir.server.api.ChatRequest;
import dev.kvasir.server.api.RequestParser;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Chat messages reach the model's template whole: tool turns with their call id, names, developer as system. */
class ServedModelTest {

    private static final String TEMPLATE = "{%- for m in messages -%}{{ m['role'] }}"
            + "{%- if m['name'] is defined %}({{ m['name'] }}){% endif -%}"
            + "{%- if m['tool_call_id'] is defined %}[{{ m['tool_call_id'] }}]{% endif -%}: {{ m['content'] }}|{%- endfor -%}";

    @Test
    void toolTurnsAndNamesReachTheTemplate() {
        try (LoadedModel loaded = ModelLoader.load(TestServers.model())) {
            Tokenizer tokenizer = Tokenizers.load(loaded);
            ServedModel model = new ServedModel("m", tokenizer, new PromptEncoder(ChatTemplate.of(TEMPLATE, "<s>", "</s>"), tokenizer),
                    new BoundedEncoder(tokenizer), 256, loaded);
            ChatRequest chat = new RequestParser(4).chat("""
                    {"messages":[{"role":"developer","content":"be brief"},
                     {"role":"user","name":"ann","content":[{"type":"text","text":"weather?"}]},
                     {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
                      "function":{"name":"w","arguments":"{}"}}]},
                     {"role":"tool","tool_call_id":"c1","content":"sunny"}]}""".getBytes(StandardCharsets.UTF_8));
            String rendered = tokenizer.decode(model.encodeChat(chat.messages())).strip();
            assertEquals("system: be brief|user(ann): weather?|assistant: |tool[c1]: sunny|", rendered);
        }
    }

    /** stories260K has no template: the built-in llama-2 format must take a whole tool round trip, tools included. */
    @Test
    void toolRoundTripOnAModelWithoutItsOwnTemplate() {
        try (LoadedModel loaded = ModelLoader.load(TestServers.model())) {
            ServedModel model = ServedModel.of(loaded, "m", null);
            ChatRequest chat = new RequestParser(4).chat("""
                    {"messages":[{"role":"user","content":"weather?"},
                     {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",
                      "function":{"name":"w","arguments":"{\\"city\\":\\"Oslo\\"}"}}]},
                     {"role":"tool","tool_call_id":"c1","content":"sunny"}],
                     "tools":[{"type":"function","function":{"name":"w"}}]}""".getBytes(StandardCharsets.UTF_8));
            String rendered = model.tokenizer().decode(model.encodeChat(chat.messages(), chat.tools()));
            // "</s><s>" between the turns decode to nothing, leaving the space on each side.
            assertEquals("[INST] <<SYS>>\nYou have access to the following functions. To call a function, respond with JSON "
                    + "in the format {\"name\": function name, \"arguments\": dictionary of argument name and its value}.\n\n"
                    + "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"w\"\n    }\n}\n<</SYS>>\n\n"
                    + "weather? [/INST] {\"name\": \"w\", \"arguments\": {\"city\": \"Oslo\"}}  "
                    + "[INST] [Tool result for call c1]\nsunny [/INST]", rendered.strip());
        }
    }
}
