package dev.kvasir.server.api;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RequestParserTest {

    private final RequestParser parser = new RequestParser(8);

    private static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void chatFieldsAndDefaults() {
        ChatRequest r = parser.chat(b("""
                {"model":"m","messages":[{"role":"system","content":"be brief"},
                 {"role":"user","content":[{"type":"text","text":"hel"},{"type":"text","text":"lo"}]}],
                 "max_tokens":5,"max_completion_tokens":7,"stop":"END","n":2,"seed":-3,
                 "logprobs":true,"top_logprobs":2,"stream":true,"stream_options":{"include_usage":true}}"""));
        assertEquals("hello", r.messages().get(1).content());
        GenerationSpec s = r.spec();
        assertEquals(7, s.maxTokens());            // max_completion_tokens wins
        assertEquals(List.of("END"), s.stop());
        assertEquals(2, s.n());
        assertEquals(-3L, s.seed());
        assertEquals(2, s.topLogprobs());
        assertTrue(s.includeUsage());
        assertEquals(1.0f, s.temperature());        // OpenAI's default
        assertEquals(0, s.topK());
    }

    @Test
    void completionPromptsAsTextTokensAndLists() {
        assertEquals(1, parser.completion(b("{\"prompt\":\"hi\"}")).prompts().size());
        assertEquals(3, parser.completion(b("{\"prompt\":[1,2,3]}")).prompts().getFirst().tokens().length);
        assertEquals(2, parser.completion(b("{\"prompt\":[[1,2],[3]]}")).prompts().size());
        assertEquals(2, parser.completion(b("{\"prompt\":[\"a\",\"b\"]}")).prompts().size());
        assertEquals(16, parser.completion(b("{\"prompt\":\"x\"}")).spec().maxTokens());
        assertNull(parser.chat(b("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}")).spec().maxTokens());
    }

    @Test
    void refusalsNameTheParameter() {
        assertEquals("temperature", assertThrows(ApiException.class,
                () -> parser.chat(b("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"temperature\":3}"))).param());
        assertEquals("n", assertThrows(ApiException.class,
                () -> parser.chat(b("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":9}"))).param());
        assertEquals("max_tokens", assertThrows(ApiException.class,
                () -> parser.completion(b("{\"prompt\":\"x\",\"max_tokens\":1e3}"))).param());
        assertEquals("prompt", assertThrows(ApiException.class, () -> parser.completion(b("{\"prompt\":[1.5]}"))).param());
        assertEquals(400, assertThrows(ApiException.class, () -> parser.chat(b("{\"messages\":"))).status().code());
        assertEquals(400, assertThrows(ApiException.class, () -> parser.chat(b("[" .repeat(1000)))).status().code());
    }
}
