package dev.kvasir.models.sampling.constraint;

import dev.kvasir.models.ModelLocator;
import dev.kvasir.models.loader.GgufFile;
import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.sampling.SamplingParams;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;

import java.util.Arrays;
import java.util.HashMap;
import java.util.SplittableRandom;

/** Vocabularies and a random-logits decoding loop the constraint tests share. */
final class Fixtures {

    private static Tokenizer llama2;
    private static Constraints llama2Constraints;

    private Fixtures() {}

    /** Llama 2's 32,000-token SentencePiece tokenizer (byte fallback, leading-space rule), from llama-2-tiny-random.gguf. */
    static synchronized Tokenizer llama2() {
        if (llama2 == null) {
            try (GgufFile f = GgufFile.open(ModelLocator.testModel("llama-2-tiny-random.gguf"))) {
                llama2 = Tokenizers.fromGgufMetadata(new HashMap<>(f.metadata()), f.path());
            }
        }
        return llama2;
    }

    /** One factory (and cache) over the Llama 2 vocabulary for the whole test run. */
    static synchronized Constraints llama2Constraints() {
        if (llama2Constraints == null) llama2Constraints = new Constraints(TokenVocabulary.of(llama2()), 1024);
        return llama2Constraints;
    }

    /** What one constrained decoding produced. */
    record Decoded(int[] tokens, String text, boolean complete, ConstraintState state) {}

    /**
     * Decodes under {@code constraint} with random logits (a window of a fixed random table at a
     * random offset each step: cheap enough for hundreds of runs), greedy over those. {@code bias}
     * is added to stop tokens and to tokens holding {@code "}],} without a backslash (twice over for
     * quotes), which makes documents close after a few dozen tokens; after {@link #STEER_AFTER}
     * tokens every step takes the allowed token that leaves the fewest bytes to completion, so
     * every run ends. The mask alone decides what is allowed either way.
     */
    static Decoded decode(CompiledConstraint constraint, Tokenizer tokenizer, long seed, int maxTokens, float bias) {
        return decode(constraint.newState(), tokenizer, seed, maxTokens, bias, new int[0]);
    }

    static final int STEER_AFTER = 150;

    static Decoded decode(ConstraintState state, Tokenizer tokenizer, long seed, int maxTokens, float closeBias, int[] before) {
        int vocab = tokenizer.vocabSize();
        float[] table = randomTable(vocab);
        float[] bias = closingBias(tokenizer, closeBias);
        SplittableRandom r = new SplittableRandom(seed);
        Sampler sampler = new Sampler(SamplingParams.greedy()); // the random window is the randomness
        float[] logits = new float[vocab];
        int[] out = Arrays.copyOf(before, before.length + maxTokens);
        int n = before.length;
        boolean complete = state.isComplete();
        int[] stops = state.constraint().vocabulary().stopTokensShared();
        for (int step = 0; step < maxTokens && !complete; step++) {
            int t;
            if (step < STEER_AFTER) {
                int off = r.nextInt(vocab);
                for (int i = 0; i < vocab; i++) logits[i] = table[off + i] + bias[i];
                t = sampler.sample(logits, null, out, n, state).tokenId();
            } else {
                t = closest(state);
            }
            if (!state.accept(t)) throw new AssertionError("sampled token " + t + " the state refuses");
            if (Arrays.binarySearch(stops, t) >= 0) {
                complete = true;
                break;
            }
            out[n++] = t;
            complete = state.isComplete();
        }
        int[] tokens = Arrays.copyOf(out, n);
        return new Decoded(tokens, tokenizer.decode(tokens), complete, state);
    }

    /**
     * A stop token where the output may end; else the allowed token after which the fewest bytes
     * complete it (the longest on ties). A one-byte token on a shortest completion always lowers
     * the distance, so this ends every output.
     */
    private static int closest(ConstraintState state) {
        long[] mask = state.allowedTokens();
        TokenVocabulary v = state.constraint().vocabulary();
        if (state.canTerminate()) return v.stopTokens()[0];
        int best = -1, bestDistance = Integer.MAX_VALUE, bestLength = -1;
        for (int w = 0; w < mask.length; w++) {
            for (long bits = mask[w]; bits != 0; bits &= bits - 1) {
                int t = (w << 6) + Long.numberOfTrailingZeros(bits);
                int d = state.minBytesToCompleteAfter(t);
                int len = v.isText(t) ? v.end(t) - v.start(t) : 0;
                if (d >= 0 && (d < bestDistance || (d == bestDistance && len > bestLength))) {
                    best = t;
                    bestDistance = d;
                    bestLength = len;
                }
            }
        }
        return best;
    }

    /** The Llama 2 token whose vocabulary string is {@code piece} ({@code ▁the}, {@code <0x0A>}). */
    static int id(String piece) {
        Tokenizer t = llama2();
        for (int i = 0; i < t.vocabSize(); i++) if (t.tokenString(i).equals(piece)) return i;
        throw new IllegalArgumentException("no token " + piece);
    }

    /** Whether the constraint's automaton matches exactly {@code text} (its UTF-8 bytes), tokens aside. */
    static boolean accepts(CompiledConstraint c, String text) {
        Stepper stepper = new Stepper(c.automaton);
        StackSet cur = new StackSet(), next = new StackSet();
        cur.add(new int[] {c.automaton.startState()}, 1);
        for (byte b : text.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            stepper.advance(cur, b & 0xFF, next);
            if (next.count == 0) return false;
            StackSet t = cur;
            cur = next;
            next = t;
        }
        return stepper.canEnd(cur);
    }

    private static float[] cachedTable;
    private static float[] cachedBias;
    private static Tokenizer cachedBiasTokenizer;
    private static float cachedBiasValue;

    private static synchronized float[] randomTable(int vocab) {
        if (cachedTable == null || cachedTable.length < 2 * vocab) {
            SplittableRandom r = new SplittableRandom(12345);
            cachedTable = new float[2 * vocab];
            for (int i = 0; i < cachedTable.length; i++) cachedTable[i] = (float) (r.nextGaussian() * 2);
        }
        return cachedTable;
    }

    private static synchronized float[] closingBias(Tokenizer tokenizer, float value) {
        if (cachedBias != null && cachedBiasTokenizer == tokenizer && cachedBiasValue == value) return cachedBias;
        float[] bias = new float[tokenizer.vocabSize()];
        for (int t = 0; t < bias.length; t++) {
            boolean closes = false, escapes = false, quotes = false;
            for (byte b : tokenizer.tokenBytes(t)) {
                quotes |= b == '"';
                closes |= b == '"' || b == '}' || b == ']' || b == ',';
                escapes |= b == '\\';
            }
            // A backslash would make the quote an escaped one, which closes nothing.
            if (closes && !escapes) bias[t] = quotes ? 2 * value : value;
        }
        for (int stop : tokenizer.stopTokenIds()) bias[stop] = 2 * value;
        cachedBias = bias;
        cachedBiasTokenizer = tokenizer;
        cachedBiasValue = value;
        return bias;
    }
}
