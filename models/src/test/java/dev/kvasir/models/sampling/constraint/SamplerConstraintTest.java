package dev.kvasir.models.sampling.constraint;

import dev.kvasir.models.sampling.SampledToken;
import dev.kvasir.models.sampling.Sampler;
import dev.kvasir.models.sampling.SamplingParams;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sampler with a constraint: the mask comes first, stop tokens only where the grammar may end. */
class SamplerConstraintTest {

    @Test
    void theMaskWinsOverLogitsPenaltiesAndTemperature() {
        CompiledConstraint c = Fixtures.llama2Constraints().choice(List.of("yes", "no"));
        int vocab = Fixtures.llama2().vocabSize();
        float[] logits = new float[vocab];
        int huge = Fixtures.id("▁maybe");
        logits[huge] = 100f; // by far the model's favourite, and not allowed
        SamplingParams hot = new SamplingParams(5f, 1f, -1, 0f, 9L, 0.5f, -3f, -3f, 3);
        Sampler sampler = new Sampler(hot);
        int[] generated = {huge, huge, huge};
        for (int i = 0; i < 300; i++) {
            ConstraintState s = c.newState();
            SampledToken t = sampler.sample(logits, new int[] {huge}, generated, 3, s);
            assertTrue(s.isAllowed(t.tokenId()), Fixtures.llama2().tokenString(t.tokenId()));
            assertTrue(s.accept(t.tokenId()));
            assertEquals(3, t.topIds().length, "logprobs still come from the raw distribution");
            assertEquals(huge, t.topIds()[0]);
        }
        assertEquals(huge, new Sampler(SamplingParams.greedy()).sample(logits, null, generated, 0).tokenId(), "unconstrained: unchanged");
    }

    @Test
    void stopTokensOnlyWhereTheGrammarMayEndAndForcedWhenItMust() {
        CompiledConstraint c = Fixtures.llama2Constraints().choice(List.of("ab", "abc"));
        int eos = 2;
        float[] logits = new float[Fixtures.llama2().vocabSize()];
        logits[eos] = 50f;
        Sampler greedy = new Sampler(SamplingParams.greedy());
        ConstraintState s = c.newState();
        assertFalse(s.isAllowed(eos), "nothing written yet");
        int first = greedy.sample(logits, null, null, 0, s).tokenId();
        assertTrue(first != eos && s.accept(first));
        // Drive to "ab" exactly, then EOS is allowed (and, with the largest logit, chosen).
        while (!s.canTerminate()) {
            int t = greedy.sample(logits, null, null, 0, s).tokenId();
            assertTrue(s.accept(t));
        }
        if (!s.isComplete()) assertEquals(eos, greedy.sample(logits, null, null, 0, s).tokenId());
        // At "abc" nothing but a stop token is left, whatever the logits say.
        ConstraintState done = c.newState();
        done.replay(Fixtures.llama2().encode("abc", false, false), 0, Fixtures.llama2().encode("abc", false, false).length);
        assertTrue(done.isComplete());
        float[] flat = new float[Fixtures.llama2().vocabSize()];
        flat[eos] = -100f;
        assertEquals(eos, greedy.sample(flat, null, null, 0, done).tokenId());
        long allowed = Arrays.stream(done.allowedTokens()).map(Long::bitCount).sum();
        assertEquals(Fixtures.llama2Constraints().vocabulary().stopTokens().length, allowed);
    }

    @Test
    void paddedLogitRowsAreNeverChosen() {
        CompiledConstraint c = Fixtures.llama2Constraints().jsonObject();
        float[] logits = new float[Fixtures.llama2().vocabSize() + 64]; // a model whose output rows are padded
        Arrays.fill(logits, Fixtures.llama2().vocabSize(), logits.length, 1000f);
        int t = new Sampler(SamplingParams.temperature(1f, 1L)).sample(logits, null, null, 0, c.newState()).tokenId();
        assertTrue(t < Fixtures.llama2().vocabSize());
    }

    @Test
    void aConstrainedStepAllocatesNothingBeyondTheUnconstrainedOne() {
        CompiledConstraint c = Fixtures.llama2Constraints().jsonObject();
        Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), 8, 400, 2f);
        float[] logits = new float[Fixtures.llama2().vocabSize()];
        for (int i = 0; i < logits.length; i++) logits[i] = (i * 7919 % 1000) / 100f;
        // Greedy: the mask is applied the same way before greedy and before a draw, and the draw's
        // vector exp allocates while it is not yet compiled (about 1.2 MB a token on a busy 2-core
        // CI machine), noise that would swamp a per-token comparison.
        Sampler sampler = new Sampler(SamplingParams.greedy());
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long constrained = 0, plain = 0, steps = 0;
        for (int round = 0; round < 30; round++) {
            ConstraintState s = c.newState();
            boolean measure = round >= 20; // the first rounds warm the JIT and grow the buffers
            for (int token : d.tokens()) {
                long a = mx.getCurrentThreadAllocatedBytes();
                s.prepareMask();
                sampler.sample(logits, null, null, 0, s);
                s.accept(token);
                long b = mx.getCurrentThreadAllocatedBytes();
                sampler.sample(logits, null, null, 0, null);
                long e = mx.getCurrentThreadAllocatedBytes();
                if (measure) {
                    constrained += b - a;
                    plain += e - b;
                    steps++;
                }
            }
        }
        // The sampler's result record is the one allocation per token on both paths.
        assertTrue(constrained <= plain + 16 * steps, "constrained " + constrained / steps + " B/token, unconstrained " + plain / steps);
    }
}
