package dev.kvasir.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** stories260K, greedy: every case of stories260K.expected.json (llama2.c run.c outputs), ids and text exactly. */
class StoriesGreedyTest {

    private static LoadedModel model;
    private static Tokenizer tokenizer;
    private static CpuBackend backend;

    @BeforeAll
    static void load() {
        model = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"));
        tokenizer = Tokenizers.load(model);
        backend = new CpuBackend(2);
    }

    @AfterAll
    static void close() {
        backend.close();
        model.close();
    }

    @TestFactory
    List<DynamicTest> reproducesLlama2cReference() throws IOException {
        JsonNode expected = new ObjectMapper().readTree(ModelLocator.testModel("stories260K.expected.json").toFile());
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : expected.get("cases")) {
            tests.add(DynamicTest.dynamicTest(c.get("name").asText(), () -> check(c)));
        }
        return tests;
    }

    private static void check(JsonNode c) {
        int[] ids = ints(c.get("expected_token_ids"));
        int steps = c.get("steps").asInt();
        try (Generator g = new Generator(model, tokenizer, backend, 512)) {
            int[] prompt = g.encode(c.get("prompt").asText());
            if (c.has("prompt_token_ids")) assertArrayEquals(ints(c.get("prompt_token_ids")), prompt, "prompt tokens");
            // run.c's steps count every position, BOS and prompt included.
            GenerationResult r = g.generate(prompt, SamplingParams.greedy(), steps - prompt.length + 1, null);
            int[] all = concat(prompt, r.tokens());
            assertArrayEquals(ids, all, () -> "token ids; got " + Arrays.toString(all));
            String promptText = c.get("prompt").asText();
            assertEquals(c.get("expected_text").asText(), promptText + (promptText.isEmpty() ? r.text() : tokenizer.decode(all).substring(promptText.length())));
        }
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
