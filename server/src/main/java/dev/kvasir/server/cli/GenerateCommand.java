package dev.kvasir.server.cli;

import dev.kvasir.models.Backends;
import dev.kvasir.models.GenerationResult;
import dev.kvasir.models.Generator;
import dev.kvasir.models.Ranks;
import dev.kvasir.models.ShardPlan;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.IncrementalDetokenizer;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code kvasir generate}: continues a prompt with a local model on the CPU or a GPU. Only the continuation
 * goes to stdout, streamed token by token (never half a UTF-8 character); timing goes to stderr.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate a continuation of a prompt (text on stdout, timing on stderr).")
public final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, description = "model file (GGUF) or Hugging Face directory")
    Path model;

    @Option(names = "--prompt", defaultValue = "", description = "prompt text (default: empty, BOS only)")
    String prompt;

    @Option(names = "--max-tokens", defaultValue = "128", description = "tokens to generate at most (default: ${DEFAULT-VALUE})")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0", description = "sampling temperature, 0 for greedy (default: ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-p", defaultValue = "1", description = "nucleus sampling mass (default: ${DEFAULT-VALUE})")
    float topP;

    @Option(names = "--top-k", defaultValue = "-1", description = "keep the k most likely tokens, -1 for all (default: ${DEFAULT-VALUE})")
    int topK;

    @Option(names = "--seed", description = "sampling seed (same seed, same output)")
    Long seed;

    @Option(names = "--threads", defaultValue = "0", description = "CPU worker threads, 0 for one per core (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--device", defaultValue = "cpu", description = "cpu or cuda (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = {"--tensor-parallel-size", "-tp"}, defaultValue = "1",
            description = "split the model over N ranks: GPUs 0 .. N-1 with NCCL on cuda, groups of the --threads workers"
                    + " on cpu (default: ${DEFAULT-VALUE})")
    int tensorParallelSize;

    @Override
    public Integer call() {
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        try {
            device = Backends.check(device, tensorParallelSize);
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("generate: " + e.getMessage());
            return 2;
        }
        try (LoadedModel loaded = ModelLoader.load(model)) {
            ShardPlan.of(loaded.config(), tensorParallelSize).requireSplittable(loaded.weights());
            try (Ranks ranks = Backends.create(device, threads, tensorParallelSize)) {
                generate(loaded, ranks, out);
            }
        }
        return 0;
    }

    /** Streams the continuation to {@code out}, then the timing line to stderr. */
    private void generate(LoadedModel loaded, Ranks ranks, PrintStream out) {
        Tokenizer tokenizer = Tokenizers.load(loaded);
        SamplingParams params = new SamplingParams(temperature, topP, topK, 0, seed, 1, 0, 0, -1);
        int[] promptTokens = tokenizer.encode(prompt, true, false);
        // KV room for this prompt and its continuation only (a 128K context would not fit in memory).
        int context = (int) Math.min(loaded.config().contextLength(), (long) promptTokens.length + maxTokens + 1);
        try (Generator generator = new Generator(loaded, tokenizer, ranks, context)) {
            // The continuation's text as the server returns it: its leading space kept.
            IncrementalDetokenizer detok = IncrementalDetokenizer.after(tokenizer, promptTokens);
            GenerationResult r = generator.generate(promptTokens, params, maxTokens, id -> {
                out.print(detok.push(id));
                out.flush();
            });
            out.print(detok.flush());
            out.println();
            out.flush();
            System.err.printf("prompt: %d tokens, %.1f tok/s; decode: %d tokens, %.1f tok/s (%s, %s)%n",
                    promptTokens.length, r.promptTokensPerSecond(), r.tokens().length, r.decodeTokensPerSecond(),
                    r.finishReason(), ranks.name());
        }
    }
}
