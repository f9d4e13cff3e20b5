package dev.kvasir.models.cuda;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.kernels.cpu.KvStorage;
import dev.kvasir.kernels.cuda.CudaBackend;
import dev.kvasir.kernels.cuda.CudaTestSupport;
import dev.kvasir.models.GenerationResult;
import dev.kvasir.models.Generator;
import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * stories260K greedy on the GPU: for every case of stories260K.expected.json, the tokens the CUDA
 * backend generates equal the CPU backend's and llama2.c's. Skips, with the reason, without a GPU.
 */
class CudaStoriesGreedyTest {

    private static LoadedModel model;
    private static Tokenizer tokenizer;
    private static CudaBackend gpu;
    private static CpuBackend cpu;

    @AfterAll
    static void close() {
        if (gpu != null) gpu.close();
        if (cpu != null) cpu.close();
        if (model != null) model.close();
    }

    /** The cases of stories260K.expected.json, by name. */
    static Stream<Arguments> cases() throws IOException {
        JsonNode expected = new ObjectMapper().readTree(ModelLocator.testModel("stories260K.expected.json").toFile());
        List<Arguments> cases = new ArrayList<>();
        for (JsonNode c : expected.get("cases")) cases.add(Arguments.of(c.get("name").asText(), c));
        return cases.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void gpuTokensEqualCpuTokens(String name, JsonNode c) {
        CudaTestSupport.requireCuda();
        if (gpu == null) {
            model = ModelLoader.load(ModelLocator.testModel("stories260K.gguf"));
            tokenizer = Tokenizers.load(model);
            gpu = new CudaBackend();
            cpu = new CpuBackend(2, KvStorage.F32, false); // float activations, as the GPU kernels
        }
        check(c);
    }

    private static void check(JsonNode c) {
        int steps = c.get("steps").asInt();
        int[] expected = ints(c.get("expected_token_ids"));
        int[] onCpu = generate(cpu, c.get("prompt").asText(), steps);
        int[] onGpu = generate(gpu, c.get("prompt").asText(), steps);
        assertArrayEquals(onCpu, onGpu, () -> "CUDA tokens differ from the CPU's; got " + Arrays.toString(onGpu));
        assertArrayEquals(expected, onGpu, () -> "CUDA tokens differ from llama2.c's; got " + Arrays.toString(onGpu));
    }

    /** BOS, the prompt and the greedy continuation: run.c's {@code steps} positions. */
    private static int[] generate(dev.kvasir.kernels.Backend backend, String promptText, int steps) {
        try (Generator g = new Generator(model, tokenizer, backend, 512)) {
            int[] prompt = g.encode(promptText);
            GenerationResult r = g.generate(prompt, SamplingParams.greedy(), steps - prompt.length + 1, null);
            int[] all = Arrays.copyOf(prompt, prompt.length + r.tokens().length);
            System.arraycopy(r.tokens(), 0, all, prompt.length, r.tokens().length);
            return all;
        }
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) out[i] = array.get(i).asInt();
        return out;
    }
}
