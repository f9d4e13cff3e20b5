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
}
