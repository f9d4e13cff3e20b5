package dev.kvasir.server.engine;

import dev.kvasir.blockmanager.KvCacheManager;
import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.IncrementalDetokenizer;
import dev.kvasir.models.tokenizer.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * Warms the JIT up before the engine serves: real forward steps (a prefill, then decodes) on
 * scratch sequences through the engine's model runner and a sampler, at batch sizes 1, 2, 4, 8
 * and 16 in turn, within the engine's budgets. The scratch prompts use their own prefix-cache key
 * and never enter the cache (their KV is never marked computed); every block is free again
 * afterwards.
 */
final class WarmUp {

    private static final Logger LOG = LoggerFactory.getLogger(WarmUp.class);

    /** Batch sizes run, each within max-num-seqs and max-num-batched-tokens. */
    private static final int[] BATCHES = {1, 2, 4, 8, 16};
    /** Prompt tokens of each scratch sequence (one prefill step before the decodes). */
    private static final int PROMPT = 32;

    private final EngineConfig config;
    private final KvCacheManager kvManager;
    private final ModelRunner runner;
    private final Tokenizer tokenizer;
    private final int vocabSize;
    /** Prefix-cache key of the scratch prompts: never the served model's. */
    private final long cacheKey;
    /** Scratch sequence ids count down from -1, apart from the engine's. */
    private long nextSeqId = -1;

    WarmUp(EngineConfig config, KvCacheManager kvManager, ModelRunner runner, Tokenizer tokenizer, int vocabSize, long cacheKey) {
        this.config = config;
        this.kvManager = kvManager;
        this.runner = runner;
        this.tokenizer = tokenizer;
        this.vocabSize = vocabSize;
        this.cacheKey = cacheKey;
    }

    /**
     * Runs up to {@code maxSteps} forward steps, an equal share per batch size, stopping early
     * after {@code maxNanos} or as soon as {@code stop} says so (checked before every step).
     *
     * @return the forward steps run
     * @throws IllegalStateException when blocks or sequences are left behind (a bug)
     */
    int run(int maxSteps, long maxNanos, java.util.function.BooleanSupplier stop) {
        long deadline = System.nanoTime() + Math.min(maxNanos, Long.MAX_VALUE / 4);
        int sizes = 0;
        while (sizes < BATCHES.length && BATCHES[sizes] <= config.maxNumSeqs() && BATCHES[sizes] <= config.maxNumBatchedTokens()) {
            sizes++;
        }
        int ran = 0;
        for (int i = 0; i < sizes && ran < maxSteps && System.nanoTime() - deadline < 0 && !stop.getAsBoolean(); i++) {
            int batch = BATCHES[i];
            // An equal share of the steps still to run for each batch size still to come.
            int share = Math.max(1, (maxSteps - ran) / (sizes - i));
            int promptLen = Math.min(Math.min(PROMPT, config.maxModelLen() / 2), config.maxNumBatchedTokens() / batch);
            int decodes = Math.min(share - 1, config.maxModelLen() - promptLen);
            List<Sequence> seqs = new ArrayList<>(batch);
            try {
                if (!allocate(seqs, batch, promptLen, decodes)) {
                    LOG.warn("warm-up stopped at batch size {}: the KV pool cannot hold its scratch sequences", batch);
                    break;
                }
                List<ScheduledStep.Chunk> prefill = new ArrayList<>(batch);
                for (Sequence seq : seqs) {
                    prefill.add(new ScheduledStep.Chunk(seq, 0, promptLen, kvManager.slotMapping(seq.id, 0, promptLen), true));
                }
                step(prefill);
                ran++;
                for (int d = 0; d < decodes && System.nanoTime() - deadline < 0 && !stop.getAsBoolean(); d++) {
                    List<ScheduledStep.Chunk> chunks = new ArrayList<>(batch);
                    for (Sequence seq : seqs) {
                        int slot = kvManager.appendToken(seq.id, seq.lastToken());
                        if (slot < 0) break;
                        chunks.add(new ScheduledStep.Chunk(seq, seq.numTokens() - 1, 1, new int[] {slot}, true));
                    }
                    if (chunks.size() < batch) break;
                    step(chunks);
                    ran++;
                }
            } finally {
                for (Sequence seq : seqs) kvManager.free(seq.id);
            }
        }
        if (kvManager.numFreeBlocks() != kvManager.numTotalBlocks() || kvManager.numCachedBlocks() != 0
                || kvManager.numSequences() != 0) {
            throw new IllegalStateException("warm-up left " + kvManager.numUsedBlocks() + " blocks in use, "
                    + kvManager.numCachedBlocks() + " cached and " + kvManager.numSequences() + " sequences");
        }
        return ran;
    }

    /** Scratch sequences with their prompts' blocks, into {@code seqs}; false when the pool cannot hold them. */
    private boolean allocate(List<Sequence> seqs, int batch, int promptLen, int decodes) {
        for (int s = 0; s < batch; s++) {
            int[] prompt = new int[promptLen];
            for (int t = 0; t < promptLen; t++) prompt[t] = (int) ((31L * s + 7L * t + batch) % vocabSize);
            GenerationRequest request = new GenerationRequest("warm-up-" + batch + "-" + s, prompt, 1, decodes + 1,
                    List.of(), true, SamplingParams.temperature(0.8f, (long) s), Long.MAX_VALUE, out -> { });
            Sequence seq = new Sequence(nextSeqId--, new RequestState(request, System.nanoTime()), 0,
                    new Sampler(request.sampling()), new IncrementalDetokenizer(tokenizer));
            if (!kvManager.canAllocatePrompt(prompt, cacheKey) || kvManager.allocatePrompt(seq.id, prompt, cacheKey) < 0) {
                return false;
            }
            seqs.add(seq);
        }
        return true;
    }

    /** One forward step, sampled like a served one (the tokens feed the next step). */
    private void step(List<ScheduledStep.Chunk> chunks) {
        float[][] logits = runner.run(new ScheduledStep(chunks, List.of(), List.of()));
        for (int i = 0; i < chunks.size(); i++) {
            Sequence seq = chunks.get(i).sequence();
            int token = seq.sampler.sample(logits[i], seq.prompt, seq.generated(), seq.numGenerated()).tokenId();
            seq.append(token);
            seq.detokenizer.push(token);
        }
    }
}
