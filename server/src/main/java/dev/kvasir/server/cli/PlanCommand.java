package dev.kvasir.server.cli;

import dev.kvasir.kernels.MemoryPlan;
import dev.kvasir.models.CapacityPlan;
import dev.kvasir.models.CapacityPlanner;
import dev.kvasir.models.Gpu;
import dev.kvasir.models.KvCacheSizing;
import dev.kvasir.models.LlamaConfig;
import dev.kvasir.models.loader.ModelShape;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code kvasir plan}: how a model would fit GPUs that are not here, by serve's own memory plan
 * ({@link CapacityPlanner}). Ends with one {@code plan: ...} line; exits 1 when not even one
 * sequence of max-model-len fits.
 */
@Command(name = "plan", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Capacity plan of serve --device cuda for a model on a GPU type: weights and KV cache per rank,"
                + " KV blocks and tokens, concurrent sequences at max-model-len.")
public final class PlanCommand implements Callable<Integer> {

    @Option(names = "--model", required = true,
            description = "GGUF file, config.json, Hugging Face directory, or a known name: llama-3-8b, llama-3-70b")
    String model;

    @Option(names = "--gpu", required = true, description = "a100-40gb, a100-80gb, h100-80gb or h200")
    String gpu;

    @Option(names = {"--tensor-parallel-size", "-tp"}, defaultValue = "1", description = "GPUs the model is split over (default: ${DEFAULT-VALUE})")
    int tensorParallelSize;

    @Option(names = "--gpu-memory-utilization", defaultValue = "0.90",
            description = "share of each GPU's memory for weights, activations and KV cache (default: ${DEFAULT-VALUE})")
    double gpuMemoryUtilization;

    @Option(names = "--max-model-len", description = "tokens per sequence at most (default: the model's context length)")
    Integer maxModelLen;

    @Option(names = "--weight-type", description = "store every matrix as f32, f16, bf16, q8_0 (int8) or q4_0 (default: the model's)")
    String weightType;

    @Option(names = "--max-num-seqs", defaultValue = "256", description = "as serve's (default: ${DEFAULT-VALUE})")
    int maxNumSeqs;

    @Option(names = "--max-num-batched-tokens", defaultValue = "2048", description = "as serve's (default: ${DEFAULT-VALUE})")
    int maxNumBatchedTokens;

    @Option(names = "--block-size", defaultValue = "16", description = "tokens per KV block (default: ${DEFAULT-VALUE})")
    int blockSize;

    @Option(names = "--reserved-memory", defaultValue = "1GiB", converter = ByteSize.Bytes.class,
            description = "per GPU, taken by the CUDA context, cuBLAS and NCCL before Kvasir allocates (default: ${DEFAULT-VALUE};"
                    + " an assumption: serve measures it)")
    long reservedMemory;

    @Override
    public Integer call() {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        ModelShape shape = ModelShape.resolve(model);
        if (weightType != null) shape = shape.withMatrixType(ModelShape.parseType(weightType));
        LlamaConfig c = shape.config();
        int len = maxModelLen != null ? maxModelLen : c.contextLength();
        CapacityPlan p = CapacityPlanner.plan(new CapacityPlanner.Request(shape, Gpu.parse(gpu), tensorParallelSize,
                gpuMemoryUtilization, new KvCacheSizing.StepLimits(maxNumSeqs, maxNumBatchedTokens, len, blockSize),
                reservedMemory, 2));
        print(out, p, shape);
        if (!p.fits()) {
            System.err.println("plan: does not fit: one sequence of max-model-len " + len + " needs " + p.minBlocks()
                    + " KV blocks per rank, the memory left holds " + p.kvBlocks()
                    + "; use more GPUs (--tensor-parallel-size), smaller weights (--weight-type) or a shorter --max-model-len");
            return 1;
        }
        return 0;
    }

    private static void print(PrintStream out, CapacityPlan p, ModelShape shape) {
        CapacityPlanner.Request r = p.request();
        LlamaConfig c = shape.config();
        MemoryPlan m = p.memory();
        int len = r.limits().maxModelLen(), bs = r.limits().blockSize();
        out.printf(Locale.ROOT, "model: %s: %d layers, %d heads, %d KV heads of %d, dim %d, ffn %d, vocab %d, context %d;"
                        + " matrices %s%n", shape.name(), c.numLayers(), c.numHeads(), c.numKvHeads(), c.headDim(), c.dim(),
                c.ffnDim(), c.vocabSize(), c.contextLength(), shape.type("blk.0.attn_q.weight"));
        out.printf(Locale.ROOT, "gpu: %d x %s (%s each), gpu-memory-utilization %.2f, max-model-len %d, max-num-seqs %d,"
                        + " max-num-batched-tokens %d%n", p.shards().worldSize(), r.gpu().id, gib(r.gpu().bytes),
                r.gpuMemoryUtilization(), len, r.limits().maxNumSeqs(), r.limits().maxNumBatchedTokens());
        out.printf(Locale.ROOT, "per rank (rank %d holds the fewest blocks): weights %s, activation workspace %s (estimated;"
                        + " serve measures it), reserved %s (CUDA context, cuBLAS, NCCL: assumed)%n", p.limitingRank(),
                gib(m.weightBytes()), gib(m.workspaceBytes()), gib(m.usedByOthersBytes()));
        out.printf(Locale.ROOT, "KV cache: %d bytes per token per rank (%d of %d KV heads, f16), %d bytes per block of %d tokens%n",
                p.kvBytesPerTokenPerRank(), p.shards().rank(p.limitingRank()).kvHeads(), c.numKvHeads(), m.bytesPerBlock(), bs);
        out.println(m);
        out.printf(Locale.ROOT, "sequences of max-model-len %d at once: %d (%d blocks each)%s%n", len, p.maxSeqsAtMaxModelLen(),
                (len + bs - 1) / bs, p.servedBlocks() < p.kvBlocks() ? "; serve allocates " + p.servedBlocks()
                        + " blocks, all that --max-num-seqs " + r.limits().maxNumSeqs() + " sequences can use" : "");
        out.println(p.line());
    }

    private static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
