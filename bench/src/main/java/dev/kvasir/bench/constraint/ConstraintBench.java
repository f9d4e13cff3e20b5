package dev.kvasir.bench.constraint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvasir.bench.decode.DecodeBenchSupport;
import dev.kvasir.kernels.cpu.CpuBackend;
import dev.kvasir.models.GenerationResult;
import dev.kvasir.models.Generator;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.sampling.constraint.CompiledConstraint;
import dev.kvasir.models.sampling.constraint.ConstraintState;
import dev.kvasir.models.sampling.constraint.Constraints;
import dev.kvasir.models.sampling.constraint.TokenVocabulary;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * {@code scripts/bench constraint}: what structured outputs cost.
 * <ol>
 * <li>Per-token overhead on two vocabularies, the smol135 model's (49,152 tokens, byte-level BPE)
 * and a synthetic Llama 3 style one of 128,256 tokens ({@link SyntheticVocabulary}), in JSON mode
 * and with a JSON Schema: the mask ({@code prepareMask}, which an engine may also run while the
 * forward pass does), applying it to the logits ({@code Sampler.applyMask}) and {@code accept},
 * the least of three trials on copies of the state per token (the CPU cost, without the
 * preemptions of a shared machine); and the single-shot figure a server sees: mask, masked sample
 * and accept, minus the same logits sampled without a constraint, measured once. p50/p99/max over
 * every token of {@code --docs} documents (random logits at temperature 0.7; a document ends when
 * the grammar does or after {@code --doc-tokens}), after as many unmeasured documents for the JIT.
 * Also the compile time of each constraint (cold: first in this JVM; warm: again, uncached).</li>
 * <li>Decode speed through {@link Generator} on smol135 Q8_0: JSON mode against free decoding,
 * alternating A/B {@code --ab-runs} times, the same prompt and seed per pair, up to
 * {@code --ab-tokens} tokens.</li>
 * </ol>
 * <pre>
 * scripts/bench constraint [--docs 40] [--doc-tokens 200] [--ab-runs 20] [--ab-tokens 64] [--threads 2]
 *                          [--models-dir bench/models] [--skip-decode]
 * </pre>
 */
public final class ConstraintBench {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** A realistic API schema: nested objects, an array of objects, enums, bounded numbers, optional fields. */
    static final String SCHEMA = """
            {"type": "object", "properties": {
              "name": {"type": "string"},
              "age": {"type": "integer", "minimum": 0, "maximum": 150},
              "email": {"type": "string"},
              "role": {"enum": ["admin", "editor", "viewer"]},
              "score": {"type": "number", "minimum": 0, "maximum": 1},
              "address": {"type": "object", "properties": {"street": {"type": "string"}, "city": {"type": "string"},
                 "zip": {"type": "string", "pattern": "^[0-9]{5}$"}}, "required": ["city"], "additionalProperties": false},
              "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
              "orders": {"type": "array", "items": {"type": "object", "properties": {
                 "id": {"type": "integer"}, "total": {"type": "number"}, "paid": {"type": "boolean"}},
                 "required": ["id", "total", "paid"], "additionalProperties": false}},
              "notes": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
             "required": ["name", "age", "role", "address", "tags", "orders"], "additionalProperties": false}""";

    record Stats(double p50, double p99, double max) {
        static Stats of(long[] nanos, int n) {
            long[] s = Arrays.copyOf(nanos, n);
            Arrays.sort(s);
            return new Stats(s[n / 2] / 1e3, s[Math.min(n - 1, (int) Math.ceil(n * 0.99) - 1)] / 1e3, s[n - 1] / 1e3);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "p50 %7.1f  p99 %7.1f  max %8.1f us", p50, p99, max);
        }
    }

    record Row(String vocab, int size, String mode, int states, double coldMs, double warmMs, int tokens, Stats mask,
               Stats accept, Stats overhead, Stats singleShot, Stats plainSample) {}

    public static void main(String[] args) throws Exception {
        int docs = 40, docTokens = 200, abRuns = 20, abTokens = 64, threads = 2;
        boolean decode = true;
        Path modelsDir = Path.of("bench/models");
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--docs" -> { docs = Integer.parseInt(v); i++; }
                case "--doc-tokens" -> { docTokens = Integer.parseInt(v); i++; }
                case "--ab-runs" -> { abRuns = Integer.parseInt(v); i++; }
                case "--ab-tokens" -> { abTokens = Integer.parseInt(v); i++; }
                case "--threads" -> { threads = Integer.parseInt(v); i++; }
                case "--models-dir" -> { modelsDir = Path.of(v); i++; }
                case "--skip-decode" -> decode = false;
                default -> {
                    System.err.println("constraint bench: unknown argument " + args[i] + "\nusage: scripts/bench constraint [--docs N] "
                            + "[--doc-tokens N] [--ab-runs N] [--ab-tokens N] [--threads N] [--models-dir DIR] [--skip-decode]");
                    System.exit(2);
                }
            }
        }
        Path smol = DecodeBenchSupport.ensureModel(modelsDir, "smol135", "q8_0", "constraint bench");
        Tokenizer smolTokenizer;
        try (LoadedModel m = ModelLoader.load(smol)) {
            smolTokenizer = Tokenizers.load(m);
        }
        List<Row> rows = new ArrayList<>();
        JsonNode schema = JSON.readTree(SCHEMA);
        for (Object[] v : new Object[][] {{"smol135", smolTokenizer}, {"llama3-style", new SyntheticVocabulary(128_256, 7)}}) {
            Tokenizer tokenizer = (Tokenizer) v[1];
            long t0 = System.nanoTime();
            TokenVocabulary vocab = TokenVocabulary.of(tokenizer);
            System.out.printf(Locale.ROOT, "%s: %d tokens, vocabulary prepared in %.0f ms%n", v[0], vocab.size(), (System.nanoTime() - t0) / 1e6);
            rows.add(measure((String) v[0], tokenizer, vocab, "json_object", null, docs, docTokens));
            rows.add(measure((String) v[0], tokenizer, vocab, "json_schema", schema, docs, docTokens));
        }
        System.out.println();
        System.out.println("overhead per token = mask + applying it to the logits + accept (least of 3 trials: CPU cost);");
        System.out.println("single shot = mask + masked sample + accept - unconstrained sample of the same logits, measured once");
        for (Row r : rows) {
            System.out.printf(Locale.ROOT, "%-12s %6d %-11s %5d states, compile cold %6.0f ms warm %6.0f ms, %d tokens%n",
                    r.vocab, r.size, r.mode, r.states, r.coldMs, r.warmMs, r.tokens);
            System.out.println("    mask         " + r.mask);
            System.out.println("    accept       " + r.accept);
            System.out.println("    overhead     " + r.overhead);
            System.out.println("    single shot  " + r.singleShot);
            System.out.println("    (sample without a constraint: " + r.plainSample + ")");
        }
        String ab = decode ? decodeAb(smol, smolTokenizer, threads, abRuns, abTokens) : "";
        writeResults(rows, ab);
    }

    private static Row measure(String name, Tokenizer tokenizer, TokenVocabulary vocab, String mode, JsonNode schema, int docs,
                               int docTokens) {
        long a = System.nanoTime();
        CompiledConstraint c = compile(new Constraints(vocab, 4), mode, schema);
        long b = System.nanoTime();
        compile(new Constraints(vocab, 4), mode, schema);
        long e = System.nanoTime();
        int vocabSize = vocab.size();
        SplittableRandom r = new SplittableRandom(17);
        float[] table = new float[2 * vocabSize];
        for (int i = 0; i < table.length; i++) table[i] = (float) r.nextGaussian() * 3;
        // Closing punctuation a little likelier, as in real JSON, so documents end.
        float[] bias = new float[vocabSize];
        for (int t = 0; t < vocabSize; t++) {
            for (byte x : tokenizer.tokenBytes(t)) if (x == '"' || x == '}' || x == ']') bias[t] = 2f;
        }
        int capacity = docs * docTokens;
        long[] single = new long[capacity], cost = new long[capacity], mask = new long[capacity], accept = new long[capacity];
        long[] plain = new long[capacity];
        int n = 0;
        float[] logits = new float[vocabSize], work = new float[vocabSize];
        int[] generated = new int[docTokens];
        for (int doc = 0; doc < 2 * docs; doc++) {
            boolean measured = doc >= docs;
            Sampler constrained = new Sampler(SamplingParams.temperature(0.7f, (long) doc));
            Sampler free = new Sampler(SamplingParams.temperature(0.7f, (long) doc));
            ConstraintState state = c.newState();
            for (int step = 0; step < docTokens; step++) {
                int off = r.nextInt(vocabSize);
                for (int i = 0; i < vocabSize; i++) logits[i] = table[off + i] + bias[i];
                // What the constraint adds, three times on copies of the state: the least is its CPU
                // cost, free of the preemptions a shared machine adds to any one measurement.
                long best = Long.MAX_VALUE, bestMask = 0, bestAccept = 0;
                int token = -1;
                for (int trial = 0; trial < 3; trial++) {
                    // The parent has not computed this step's mask yet, so neither has its copy.
                    ConstraintState s = state.fork();
                    System.arraycopy(logits, 0, work, 0, vocabSize);
                    long t0 = System.nanoTime();
                    s.prepareMask();
                    long t1 = System.nanoTime();
                    Sampler.applyMask(work, s.allowedTokens());
                    long t2 = System.nanoTime();
                    if (token < 0) token = constrained.sample(logits, null, generated, step, s).tokenId();
                    long t3 = System.nanoTime();
                    s.accept(token);
                    long t4 = System.nanoTime();
                    long total = (t1 - t0) + (t2 - t1) + (t4 - t3);
                    if (total < best) {
                        best = total;
                        bestMask = t1 - t0;
                        bestAccept = t4 - t3;
                    }
                }
                // The single-shot figure the way a server would see it: mask, masked sample, accept,
                // minus the same logits sampled without a constraint.
                long t0 = System.nanoTime();
                state.prepareMask();
                constrained.sample(logits, null, generated, step, state);
                state.accept(token);
                long t1 = System.nanoTime();
                free.sample(logits, null, generated, step);
                long t2 = System.nanoTime();
                generated[step] = token;
                if (measured) {
                    cost[n] = best;
                    mask[n] = bestMask;
                    accept[n] = bestAccept;
                    single[n] = Math.max(0, (t1 - t0) - (t2 - t1));
                    plain[n] = t2 - t1;
                    n++;
                }
                if (state.isComplete()) break;
            }
        }
        return new Row(name, vocabSize, mode, c.stateCount(), (b - a) / 1e6, (e - b) / 1e6, n, Stats.of(mask, n), Stats.of(accept, n),
                Stats.of(cost, n), Stats.of(single, n), Stats.of(plain, n));
    }

    private static CompiledConstraint compile(Constraints cs, String mode, JsonNode schema) {
        return mode.equals("json_object") ? cs.jsonObject() : cs.jsonSchema(schema);
    }

    /**
     * Generator decode speed, JSON mode vs free, alternating per run with the same seed. A random
     * model often closes its JSON object within a few tokens, so speed is decode steps over decode
     * time summed across the runs of each side (the per-run medians as well).
     */
    private static String decodeAb(Path model, Tokenizer tokenizer, int threads, int runs, int tokens) {
        StringBuilder out = new StringBuilder();
        try (LoadedModel loaded = ModelLoader.load(model); CpuBackend backend = new CpuBackend(threads);
             Generator g = new Generator(loaded, tokenizer, backend, 1024)) {
            CompiledConstraint json = new Constraints(TokenVocabulary.of(tokenizer), 4).jsonObject();
            int[] prompt = g.encode("Reply with a JSON object describing a user:");
            // Warm-up of both paths (JIT), unmeasured.
            for (int i = 0; i < 2; i++) {
                g.generate(prompt, SamplingParams.temperature(0.8f, (long) i), tokens, null, null);
                g.generate(prompt, SamplingParams.temperature(0.8f, (long) i), tokens, json.newState(), null);
            }
            double[] free = new double[runs], constrained = new double[runs];
            long freeSteps = 0, freeNanos = 0, jsonSteps = 0, jsonNanos = 0;
            for (int i = 0; i < runs; i++) {
                SamplingParams p = SamplingParams.temperature(0.8f, 1000L + i);
                GenerationResult f = g.generate(prompt, p, tokens, null, null);
                GenerationResult j = g.generate(prompt, p, tokens, json.newState(), null);
                free[i] = f.decodeTokensPerSecond();
                constrained[i] = j.decodeTokensPerSecond();
                freeSteps += f.decodeSteps();
                freeNanos += f.decodeNanos();
                jsonSteps += j.decodeSteps();
                jsonNanos += j.decodeNanos();
            }
            double freeRate = freeSteps * 1e9 / freeNanos, jsonRate = jsonSteps * 1e9 / jsonNanos;
            out.append(String.format(Locale.ROOT, "smol135 q8_0 decode via Generator, %d threads, up to %d tokens, %d alternating runs%n",
                    threads, tokens, runs));
            out.append(String.format(Locale.ROOT, "  free      %5d steps %7.1f tok/s (per-run median %.1f)%n", freeSteps, freeRate, median(free)));
            out.append(String.format(Locale.ROOT, "  json mode %5d steps %7.1f tok/s (per-run median %.1f)%n", jsonSteps, jsonRate,
                    median(constrained)));
            out.append(String.format(Locale.ROOT, "  json / free = %.3f%n", jsonRate / freeRate));
        }
        System.out.println();
        System.out.print(out);
        return out.toString();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double[] round(double[] v) {
        double[] out = new double[v.length];
        for (int i = 0; i < v.length; i++) out[i] = Math.round(v[i] * 10) / 10.0;
        return out;
    }

    private static void writeResults(List<Row> rows, String ab) throws IOException {
        Path dir = Path.of("bench/results");
        Files.createDirectories(dir);
        StringBuilder sb = new StringBuilder();
        sb.append("# constraint bench ").append(LocalDateTime.now().format(DateTimeFormatter.ISO_LOCAL_DATE_TIME))
                .append(", ").append(Runtime.getRuntime().availableProcessors()).append(" cpus\n");
        sb.append("vocab,vocab_size,mode,states,compile_cold_ms,compile_warm_ms,tokens,mask_p50_us,mask_p99_us,accept_p50_us,"
                + "accept_p99_us,overhead_p50_us,overhead_p99_us,overhead_max_us,single_shot_p50_us,single_shot_p99_us,plain_sample_p50_us\n");
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%s,%d,%s,%d,%.0f,%.0f,%d,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f%n", r.vocab, r.size,
                    r.mode, r.states, r.coldMs, r.warmMs, r.tokens, r.mask.p50(), r.mask.p99(), r.accept.p50(), r.accept.p99(),
                    r.overhead.p50(), r.overhead.p99(), r.overhead.max(), r.singleShot.p50(), r.singleShot.p99(), r.plainSample.p50()));
        }
        for (String line : ab.split("\n")) if (!line.isBlank()) sb.append("# ").append(line).append('\n');
        Files.writeString(dir.resolve("constraint.csv"), sb.toString());
    }
}
