package dev.kvasir.models.template;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatTemplateTest {

    static String resource(String name) {
        try (InputStream in = ChatTemplateTest.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing test resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final ChatTemplate LLAMA31 = ChatTemplate.of(resource("llama-3.1-instruct.jinja"), "<|begin_of_text|>", "<|eot_id|>");
    private static final ChatTemplate SMOLLM2 = ChatTemplate.of(resource("smollm2-instruct.jinja"), "<|im_start|>", "<|im_end|>");

    @Test
    void llama31MultiTurnWithSystem() {
        String prompt = LLAMA31.render(List.of(
                ChatMessage.system("You are a helpful assistant."),
                ChatMessage.user("Hello!"),
                ChatMessage.assistant("Hi! How can I help?"),
                ChatMessage.user("  What is 2+2?  ")), true);
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                + "You are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHi! How can I help?<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", prompt);
    }

    @Test
    void llama31WithoutSystemWithoutGenerationPromptAndWithADate() {
        String prompt = LLAMA31.render(List.of(ChatMessage.user("Hi"), ChatMessage.assistant("Hello")), false,
                Map.of("date_string", "01 Jan 2025"));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: 01 Jan 2025\n\n<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>", prompt);
    }

    @Test
    void smollm2AddsItsDefaultSystemPrompt() {
        String prompt = SMOLLM2.render(List.of(
                ChatMessage.user("Hi"),
                ChatMessage.assistant("Hello! How can I help?"),
                ChatMessage.user("Tell me a joke.")), true);
        assertEquals("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\nHello! How can I help?<|im_end|>\n"
                + "<|im_start|>user\nTell me a joke.<|im_end|>\n"
                + "<|im_start|>assistant\n", prompt);
    }

    @Test
    void smollm2KeepsAGivenSystemPrompt() {
        String prompt = SMOLLM2.render(List.of(ChatMessage.system("Be terse."), ChatMessage.user("Hi")), false);
        assertEquals("<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n", prompt);
    }

    @Test
    void builtInLlama2FormatsTurnsAndStripsContent() {
        ChatTemplate llama2 = ChatTemplate.builtIn(BuiltInTemplates.LLAMA2, "<s>", "</s>");
        String prompt = llama2.render(List.of(
                ChatMessage.system("Be brief."),
                ChatMessage.user("Hi"),
                ChatMessage.assistant(" Hello "),
                ChatMessage.user("Bye")), true);
        assertEquals("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello </s><s>[INST] Bye [/INST]", prompt);
    }

    @Test
    void builtInLlama3AndChatMl() {
        List<ChatMessage> messages = List.of(ChatMessage.user(" Hi "), ChatMessage.assistant("Yo"));
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\nYo<|eot_id|>"
                        + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                ChatTemplate.builtIn(BuiltInTemplates.LLAMA3, "<|begin_of_text|>", "<|eot_id|>").render(messages, true));
        assertEquals("<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\nYo<|im_end|>\n",
                ChatTemplate.builtIn(BuiltInTemplates.CHATML, "", "<|im_end|>").render(messages, false));
    }

    @Test
    void raiseExceptionRejectsTheConversationWithTheTemplatesMessage() {
        ChatTemplate llama2 = ChatTemplate.builtIn(BuiltInTemplates.LLAMA2, "<s>", "</s>");
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> llama2.render(List.of(ChatMessage.user("a"), ChatMessage.user("b")), true));
        assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
    }

    @Test
    void pythonStringMethodsWorkOnStrings() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}"
                + "{% if m.content.startswith('/') %}cmd:{{ m.content.lstrip('/').upper() }}"
                + "{% elif m.content.strip().endswith(['?', '!']) %}{{ m.content.strip().lower() }}"
                + "{% else %}{{ m.content.split(',') | join('+') }}|{{ m.content.split() | length }}"
                + "|{{ m.content.replace('a', 'o') }}|{{ m.content.title() }}|{{ '-'.join(['x', 'y']) }}{% endif %};"
                + "{% endfor %}", "", "");
        assertEquals("cmd:HELP;why?;a+b c+d|2|o,b c,d|A,B C,D|x-y;", t.render(List.of(
                ChatMessage.user("/help"), ChatMessage.user("  WHY?  "), ChatMessage.user("a,b c,d")), false));
    }

    @Test
    void optionalMessageFieldsAreOnlyPresentWhenSet() {
        ChatTemplate t = ChatTemplate.of("{% for m in messages %}{% if 'name' in m %}{{ m.name }}{% else %}-{% endif %}"
                + "{% if m.tool_call_id is defined %}@{{ m.tool_call_id }}{% endif %}{% endfor %}", "", "");
        assertEquals("-bob@call_1", t.render(List.of(ChatMessage.user("x"),
                new ChatMessage("tool", "42", "bob", "call_1")), false));
    }

    /** OpenAI's weather example: one function, as a client sends it in {@code tools}. */
    static final List<Object> WEATHER_TOOLS = List.of(ordered("type", "function", "function", ordered(
            "name", "get_weather", "description", "Current weather in a city",
            "parameters", ordered("type", "object", "properties", Map.of("city", Map.of("type", "string")),
                    "required", List.of("city")))));

    /** user asks, assistant calls get_weather, the tool answers: the round trip every tool client makes. */
    static final List<ChatMessage> WEATHER_TURNS = List.of(
            ChatMessage.user("What's the weather in Paris?"),
            ChatMessage.assistant("", List.of(new ChatMessage.ToolCall("call_1", "get_weather", Map.of("city", "Paris")))),
            ChatMessage.tool("call_1", "22C and sunny"));

    static Map<String, Object> ordered(Object... keysAndValues) {
        Map<String, Object> map = new java.util.LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) map.put((String) keysAndValues[i], keysAndValues[i + 1]);
        return map;
    }

    private static List<ChatMessage> withSystem(String system, List<ChatMessage> turns) {
        List<ChatMessage> all = new java.util.ArrayList<>();
        all.add(ChatMessage.system(system));
        all.addAll(turns);
        return all;
    }

    private static final String WEATHER_TOOL_JSON_INDENT4 = """
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "Current weather in a city",
                    "parameters": {
                        "type": "object",
                        "properties": {
                            "city": {
                                "type": "string"
                            }
                        },
                        "required": [
                            "city"
                        ]
                    }
                }
            }""";

    @Test
    void llama31RendersAToolCallRoundTripAsHuggingFaceDoes() {
        String prompt = LLAMA31.render(withSystem("You are a helpful assistant.", WEATHER_TURNS), true, Map.of("tools", WEATHER_TOOLS));
        // Tools go into the first user turn (tools_in_user_message defaults to true); the call is
        // Meta's {"name", "parameters"} JSON; a string result is iterable in Jinja2, so tojson quotes it.
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                + "You are a helpful assistant.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\n"
                + "Given the following functions, please respond with a JSON for a function call with its proper arguments "
                + "that best answers the given prompt.\n\n"
                + "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}."
                + "Do not use variables.\n\n"
                + WEATHER_TOOL_JSON_INDENT4 + "\n\n"
                + "What's the weather in Paris?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n"
                + "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|>"
                + "<|start_header_id|>ipython<|end_header_id|>\n\n\"22C and sunny\"<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", prompt);
    }

    @Test
    void llama31RefusesParallelCallsWithItsOwnMessage() {
        ChatMessage twoCalls = ChatMessage.assistant(null, List.of(
                new ChatMessage.ToolCall("a", "f", Map.of()), new ChatMessage.ToolCall("b", "g", Map.of())));
        ChatTemplateException e = assertThrows(ChatTemplateException.class,
                () -> LLAMA31.render(List.of(ChatMessage.user("x"), twoCalls), false));
        assertTrue(e.getMessage().contains("This model only supports single tool-calls at once!"), e.getMessage());
    }

    @Test
    void smollm2RendersToolTurnsInItsOwnFormat() {
        // SmolLM2's template has no tool-call syntax: as under Hugging Face, the tool turn is a ChatML
        // turn of role "tool" and the calling turn shows only its content.
        String prompt = SMOLLM2.render(WEATHER_TURNS, true, Map.of("tools", WEATHER_TOOLS));
        assertEquals("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                + "<|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n"
                + "<|im_start|>assistant\n<|im_end|>\n"
                + "<|im_start|>tool\n22C and sunny<|im_end|>\n"
                + "<|im_start|>assistant\n", prompt);
    }

    @Test
    void builtInChatMlRendersToolsCallsAndResults() {
        ChatTemplate chatMl = ChatTemplate.builtIn(BuiltInTemplates.CHATML, "", "<|im_end|>");
        String prompt = chatMl.render(withSystem("Be brief.", WEATHER_TURNS), true, Map.of("tools", WEATHER_TOOLS));
        assertEquals("<|im_start|>system\nBe brief.\n\n# Tools\n\n"
                + "You may call one or more functions to assist with the user query.\n\n"
                + "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
                + "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Current weather in a city\", "
                + "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}\n"
                + "</tools>\n\nFor each function call, return a json object with function name and arguments within "
                + "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
                + "<|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n"
                + "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
                + "<|im_start|>tool\n22C and sunny<|im_end|>\n"
                + "<|im_start|>assistant\n", prompt);
        // Without a system message the tools get a system turn of their own; without tools nothing changes.
        assertTrue(chatMl.render(WEATHER_TURNS, false, Map.of("tools", WEATHER_TOOLS)).startsWith("<|im_start|>system\n# Tools\n\n"));
        assertTrue(chatMl.render(WEATHER_TURNS, false).startsWith("<|im_start|>user\n"));
    }

    @Test
    void builtInLlama3RendersToolsAsMetasLlama31Does() {
        ChatTemplate llama3 = ChatTemplate.builtIn(BuiltInTemplates.LLAMA3, "<|begin_of_text|>", "<|eot_id|>");
        List<ChatMessage> turns = new java.util.ArrayList<>(WEATHER_TURNS);
        turns.add(ChatMessage.assistant("It is 22C and sunny."));
        turns.add(ChatMessage.user("Thanks"));
        String prompt = llama3.render(turns, true, Map.of("tools", WEATHER_TOOLS));
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Environment: ipython\n\nYou have access to the following functions. To call a function, please respond with "
                + "JSON for a function call. Respond in the format {\"name\": function name, \"parameters\": dictionary of argument "
                + "name and its value}. Do not use variables.\n\n" + WEATHER_TOOL_JSON_INDENT4 + "<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nWhat's the weather in Paris?<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|>"
                + "<|start_header_id|>ipython<|end_header_id|>\n\n22C and sunny<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nIt is 22C and sunny.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nThanks<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", prompt);
    }

    @Test
    void builtInLlama2FoldsToolResultsIntoTheUserTurn() {
        ChatTemplate llama2 = ChatTemplate.builtIn(BuiltInTemplates.LLAMA2, "<s>", "</s>");
        // The round trip that used to be refused as "roles must alternate".
        assertEquals("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nWhat's the weather in Paris? [/INST] "
                        + "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}} </s>"
                        + "<s>[INST] [Tool result for call call_1]\n22C and sunny [/INST]",
                llama2.render(withSystem("Be brief.", WEATHER_TURNS), true));
        // A user message after the result joins the same [INST] turn; two results in a row too.
        List<ChatMessage> more = new java.util.ArrayList<>(WEATHER_TURNS);
        more.add(ChatMessage.tool("call_2", " 9 km/h wind "));
        more.add(ChatMessage.user("Umbrella?"));
        assertTrue(llama2.render(more, true).endsWith("</s><s>[INST] [Tool result for call call_1]\n22C and sunny\n\n"
                + "[Tool result for call call_2]\n9 km/h wind\n\nUmbrella? [/INST]"));
        // [user, tool] used to drop the tool's content silently.
        assertEquals("<s>[INST] Look it up\n\n[Tool result for call c]\nfound [/INST]",
                llama2.render(List.of(ChatMessage.user("Look it up"), ChatMessage.tool("c", "found")), true));
    }

    @Test
    void builtInLlama2PutsToolsInTheSystemBlockAndRefusesWhatItCannotPlace() {
        ChatTemplate llama2 = ChatTemplate.builtIn(BuiltInTemplates.LLAMA2, "<s>", "</s>");
        assertEquals("<s>[INST] <<SYS>>\nYou have access to the following functions. To call a function, respond with JSON in the "
                        + "format {\"name\": function name, \"arguments\": dictionary of argument name and its value}.\n\n"
                        + WEATHER_TOOL_JSON_INDENT4 + "\n<</SYS>>\n\nHi [/INST]",
                llama2.render(List.of(ChatMessage.user("Hi")), true, Map.of("tools", WEATHER_TOOLS)));
        ChatTemplateException late = assertThrows(ChatTemplateException.class,
                () -> llama2.render(List.of(ChatMessage.user("a"), ChatMessage.assistant("b"), ChatMessage.system("c")), true));
        assertTrue(late.getMessage().contains("no place for a system message"), late.getMessage());
        assertThrows(ChatTemplateException.class,
                () -> llama2.render(List.of(ChatMessage.user("a"), ChatMessage.assistant("b"), ChatMessage.assistant("c")), true));
        assertThrows(ChatTemplateException.class, () -> llama2.render(List.of(ChatMessage.tool("c", "r"), ChatMessage.user("u"),
                ChatMessage.user("again")), true));
    }

    @Test
    void tojsonWritesPythonsJson() {
        ChatTemplate t = ChatTemplate.of("{{ messages[0].tool_calls[0].function.arguments | tojson }}|"
                + "{{ messages[0].tool_calls[0].function.arguments | tojson(indent=2) }}", "", "");
        Map<String, Object> args = ordered("s", "é \"q\" \\ \n\u0001", "n", List.of(1, 2.5, 1e-5, 1e16, 100.0, -0.0),
                "b", true, "z", null, "e", Map.of(), "l", List.of());
        assertEquals("{\"s\": \"é \\\"q\\\" \\\\ \\n\\u0001\", \"n\": [1, 2.5, 1e-05, 1e+16, 100.0, -0.0], "
                        + "\"b\": true, \"z\": null, \"e\": {}, \"l\": []}|{\n  \"s\": \"é \\\"q\\\" \\\\ \\n\\u0001\",\n  \"n\": [\n"
                        + "    1,\n    2.5,\n    1e-05,\n    1e+16,\n    100.0,\n    -0.0\n  ],\n  \"b\": true,\n  \"z\": null,\n"
                        + "  \"e\": {},\n  \"l\": []\n}",
                t.render(List.of(ChatMessage.assistant(null, List.of(new ChatMessage.ToolCall("c", "f", args)))), false));
    }
}
