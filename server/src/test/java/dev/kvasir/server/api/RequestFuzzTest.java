package dev.kvasir.server.api;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.template.ChatTemplateException;
import dev.kvasir.server.ServedModel;
import dev.kvasir.server.TestServers;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;

import static org.junit.jupiter.params.provider.Arguments.arguments;

/**
 * Fuzz target for what a request body goes through before the engine: JSON parsing and validation
 * ({@link RequestParser}, {@link Json}) for chat and completions, then the chat template and the
 * tokenizer of stories260K for what was accepted. A body is either accepted or refused with an
 * {@link ApiException}: a 4xx with a short message (client values abbreviated, never echoed whole);
 * template and tokenizer refusals are the ones the API turns into a 400. Anything else is a bug.
 * Committed bodies under RequestFuzzTestInputs/ run in every test run; {@code scripts/fuzz} fuzzes.
 */
class RequestFuzzTest {

    private static final RequestParser PARSER = new RequestParser(8);
    private static final ServedModel MODEL = model();

    private static ServedModel model() {
        return ServedModel.of(ModelLoader.load(TestServers.model()), "stories260K", 512);
    }

    static Stream<Arguments> requestBody() {
        return Stream.of(
                "{\"model\":\"stories260K\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                        + "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}]}],\"max_tokens\":5,\"stop\":[\"x\"],"
                        + "\"n\":2,\"seed\":3,\"logprobs\":true,\"top_logprobs\":2,\"stream\":true,\"stream_options\":{\"include_usage\":true}}",
                "{\"messages\":[{\"role\":\"user\",\"content\":\"weather?\"},{\"role\":\"assistant\",\"content\":null,"
                        + "\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"get\",\"arguments\":\"{\\\"q\\\":1}\"}}]},"
                        + "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"sunny\"}],\"tools\":[{\"type\":\"function\","
                        + "\"function\":{\"name\":\"get\",\"parameters\":{\"type\":\"object\"}}}],\"temperature\":0.5,\"top_p\":0.9}",
                "{\"prompt\":[\"Once upon\",\"a time\"],\"max_tokens\":3,\"temperature\":0,\"top_k\":5,\"min_p\":0.1,"
                        + "\"presence_penalty\":1,\"frequency_penalty\":-1,\"repetition_penalty\":1.2,\"logprobs\":1,\"ignore_eos\":true}",
                "{\"prompt\":[[1,2,3],[4,5]],\"max_tokens\":2}")
                .map(s -> arguments((Object) s.getBytes(StandardCharsets.UTF_8)));
    }

    @MethodSource
    @FuzzTest(maxDuration = "10s")
    void requestBody(byte[] body) {
        try {
            ChatRequest chat = PARSER.chat(body);
            try {
                MODEL.encodeChat(chat.messages(), chat.tools());
            } catch (ChatTemplateException | IllegalArgumentException refusedAs400) {
                requireShort(refusedAs400.getMessage());
            }
        } catch (ApiException refused) {
            requireClientError(refused);
        }
        try {
            CompletionRequest completion = PARSER.completion(body);
            for (CompletionRequest.Prompt p : completion.prompts()) {
                if (p.text() != null) MODEL.encodeText(p.text());
            }
        } catch (ApiException refused) {
            requireClientError(refused);
        }
    }

    private static void requireClientError(ApiException e) {
        int code = e.status().code();
        if (code < 400 || code >= 500) throw new AssertionError("a refusal that is not a 4xx: " + code, e);
        requireShort(e.getMessage());
    }

    /** Client values in messages are abbreviated: a refusal never hands a huge field back. */
    private static void requireShort(String message) {
        if (message == null || message.isEmpty() || message.length() > 2000) {
            throw new AssertionError("refusal message missing or " + (message == null ? 0 : message.length()) + " chars long");
        }
    }
}
