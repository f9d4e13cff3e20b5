package dev.kvasir.server;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.chat.completions.ChatCompletionTokenLogprob;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.models.GenerationResult;
import dev.kvasir.models.Generator;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.Tokenizers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The real server on stories260K, driven by the official OpenAI Java SDK. */
class OpenAiApiTest {

    private static final String KEY = "sk-test-kvasir";
    private static final String STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

    static KvasirServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.config().withApiKey(KEY));
        client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey(KEY)
                .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
    }

    private static ChatCompletionCreateParams.Builder chat(String content) {
        return ChatCompletionCreateParams.builder().model(TestServers.MODEL_NAME).addUserMessage(content);
    }

    @Test
    void plainChatHasOpenAiShapeAndUsage() {
        ChatCompletion c = client.chat().completions().create(chat("Tell me a story").maxCompletionTokens(12).temperature(0).build());
        assertEquals(1, c.choices().size());
        ChatCompletion.Choice choice = c.choices().getFirst();
        assertFalse(choice.message().content().orElseThrow().isEmpty());
        assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, choice.finishReason());
        assertTrue(c.id().startsWith("chatcmpl-"));
        assertEquals(TestServers.MODEL_NAME, c.model());
        assertEquals(12, c.usage().orElseThrow().completionTokens());
        assertTrue(c.usage().orElseThrow().promptTokens() > 3);
    }

    @Test
    void streamingChatConcatenatesToTheSameTextAsNonStreaming() {
        ChatCompletionCreateParams params = chat("Tell me about a dog").maxCompletionTokens(24).temperature(0).build();
        String whole = client.chat().completions().create(params).choices().getFirst().message().content().orElseThrow();
        StringBuilder streamed = new StringBuilder();
        List<String> finishes = new ArrayList<>();
        long[] usageCompletion = {-1};
        ChatCompletionCreateParams streamParams = params.toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(streamParams)) {
            stream.stream().forEach(chunk -> {
                for (ChatCompletionChunk.Choice ch : chunk.choices()) {
                    ch.delta().content().ifPresent(streamed::append);
                    ch.finishReason().ifPresent(f -> finishes.add(f.asString()));
                }
                chunk.usage().ifPresent(u -> usageCompletion[0] = u.completionTokens());
            });
        }
        assertEquals(whole, streamed.toString());
        assertEquals(List.of("length"), finishes);
        assertEquals(24, usageCompletion[0]);
    }

    @Test
    void twoChoicesSampleIndependentlyFromOneSharedPrompt() {
        ChatCompletion c = client.chat().completions().create(chat(STORY).n(2).maxCompletionTokens(30)
                .temperature(1.0).seed(7).build());
        assertEquals(2, c.choices().size());
        assertEquals(0, c.choices().get(0).index());
        assertEquals(1, c.choices().get(1).index());
        assertNotEquals(c.choices().get(0).message().content(), c.choices().get(1).message().content());
        assertEquals(60, c.usage().orElseThrow().completionTokens());
    }

    @Test
    void sameSeedGivesSameTextDifferentSeedDiffers() {
        ChatCompletionCreateParams a = chat("A cat").maxCompletionTokens(30).temperature(1.0).seed(1234).build();
        String first = client.chat().completions().create(a).choices().getFirst().message().content().orElseThrow();
        String again = client.chat().completions().create(a).choices().getFirst().message().content().orElseThrow();
        String other = client.chat().completions().create(a.toBuilder().seed(99).build())
                .choices().getFirst().message().content().orElseThrow();
        assertEquals(first, again);
        assertNotEquals(first, other);
    }

    @Test
    void stopSequenceEndsTheChoiceAndIsNotIncluded() {
        ChatCompletionCreateParams params = chat(STORY).maxCompletionTokens(60).temperature(0).build();
        String full = client.chat().completions().create(params).choices().getFirst().message().content().orElseThrow();
        // Stop on a word the greedy text contains after its start.
        String[] words = full.trim().split("\\s+");
        String stopWord = words[Math.min(3, words.length - 1)];
        int at = full.indexOf(stopWord, 1);
        ChatCompletion stopped = client.chat().completions().create(params.toBuilder().stop(stopWord).build());
        String text = stopped.choices().getFirst().message().content().orElseThrow();
        assertEquals(full.substring(0, at), text);
        assertEquals(ChatCompletion.Choice.FinishReason.STOP, stopped.choices().getFirst().finishReason());
    }

    @Test
    void logprobsCarryTheChosenTokenAndAlternatives() {
        ChatCompletion c = client.chat().completions().create(chat("The sun").maxCompletionTokens(5).temperature(0)
                .logprobs(true).topLogprobs(3).build());
        List<ChatCompletionTokenLogprob> content = c.choices().getFirst().logprobs().orElseThrow().content().orElseThrow();
        assertEquals(5, content.size());
        for (ChatCompletionTokenLogprob t : content) {
            assertEquals(3, t.topLogprobs().size());
            // Greedy: the chosen token is the most likely alternative.
            assertEquals(t.topLogprobs().getFirst().logprob(), t.logprob(), 1e-5);
            assertTrue(t.logprob() <= 0);
        }
    }

    @Test
    void repeatedPromptReportsCachedTokens() {
        ChatCompletionCreateParams params = chat(STORY + " One day she found a shiny red ball under a big tree.")
                .maxCompletionTokens(4).temperature(0).build();
        client.chat().completions().create(params);
        ChatCompletion again = client.chat().completions().create(params);
        long prompt = again.usage().orElseThrow().promptTokens();
        long cached = again.usage().orElseThrow().promptTokensDetails().orElseThrow().cachedTokens().orElseThrow();
        assertTrue(prompt > 32, "prompt of " + prompt + " tokens spans full blocks");
        assertEquals(prompt / 16 * 16 == prompt ? prompt - 16 : prompt / 16 * 16, cached);
    }

    @Test
    void greedyCompletionEqualsGenerator() {
        String prompt = "Once upon a time";
        Completion c = client.completions().create(CompletionCreateParams.builder().model(TestServers.MODEL_NAME)
                .prompt(prompt).maxTokens(60).temperature(0).build());
        try (LoadedModel loaded = ModelLoader.load(TestServers.model());
             CpuBackend backend = new CpuBackend(1);
             Generator generator = new Generator(loaded, Tokenizers.load(loaded), backend, 256)) {
            GenerationResult expected = generator.generate(prompt, SamplingParams.greedy(), 60, null);
            assertEquals(expected.text(), c.choices().getFirst().text());
            assertEquals(expected.tokens().length, c.usage().orElseThrow().completionTokens());
        }
    }

    @Test
    void errorsComeBackAsOpenAiExceptions() {
        assertThrows(NotFoundException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model("gpt-9").addUserMessage("hi").build()));
        BadRequestException tooLong = assertThrows(BadRequestException.class, () -> client.chat().completions().create(
                chat("word ".repeat(3000)).maxCompletionTokens(5).build()));
        assertTrue(tooLong.getMessage().contains("2048"), tooLong.getMessage());
        assertThrows(BadRequestException.class, () -> client.chat().completions().create(chat("hi").temperature(5.0).build()));
        assertThrows(BadRequestException.class, () -> client.chat().completions().create(chat("hi").n(0).build()));
        OpenAIClient wrongKey = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey("nope")
                .maxRetries(0).build();
        try {
            assertThrows(UnauthorizedException.class, () -> wrongKey.chat().completions().create(chat("hi").build()));
        } finally {
            wrongKey.close();
        }
    }

    @Test
    void modelsListsTheServedModel() {
        var models = client.models().list().data();
        assertEquals(1, models.size());
        assertEquals(TestServers.MODEL_NAME, models.getFirst().id());
    }

    @Test
    void completionsTakeSeveralPromptsAsTokenLists() {
        Completion c = client.completions().create(CompletionCreateParams.builder().model(TestServers.MODEL_NAME)
                .promptOfArrayOfTokenArrays(List.of(List.of(1L, 400L, 401L), List.of(1L, 300L)))
                .maxTokens(5).n(2).temperature(0.8).seed(3).build());
        Map<Long, String> byIndex = new TreeMap<>();
        c.choices().forEach(ch -> byIndex.put(ch.index(), ch.text()));
        assertEquals(List.of(0L, 1L, 2L, 3L), List.copyOf(byIndex.keySet()));
        assertEquals(20, c.usage().orElseThrow().completionTokens());
        assertEquals(5, c.usage().orElseThrow().promptTokens());
    }
}
