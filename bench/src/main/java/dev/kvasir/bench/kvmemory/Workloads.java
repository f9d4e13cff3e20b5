package dev.kvasir.bench.kvmemory;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** The two request traces of the kv-memory benchmark, seeded so every run replays the same requests. */
final class Workloads {

    static final int MAX_MODEL_LEN = 4_096;
    static final int SYSTEM_PROMPT_TOKENS = 1_500;
    static final int USER_MEMORY_TOKENS = 300;
    static final int USERS = 20;
    /** Mean length of an agent request's own turn after the shared system prompt and memory block. */
    static final int AGENT_TURN_MEAN = 200;
    private static final double SIGMA = 0.8;
    private static final int VOCAB = 32_000;

    private Workloads() {}

    /** Chat: lognormal prompt and output lengths (means 600 and 250), clipped to the model length. */
    static List<Request> chat(int count, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Request> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int prompt = Math.min(lognormal(rnd, 600), MAX_MODEL_LEN - 1);
            int output = Math.min(lognormal(rnd, 250), MAX_MODEL_LEN - prompt);
            out.add(new Request(randomTokens(rnd, prompt), output, 1));
        }
        return out;
    }

    /**
     * Agents: the same 1,500-token system prompt, then the user's 300-token memory block (20 users), then
     * the turn itself; a quarter of the requests ask for n = 4 samples.
     */
    static List<Request> agents(int count, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] system = randomTokens(rnd, SYSTEM_PROMPT_TOKENS);
        int[][] memories = new int[USERS][];
        for (int u = 0; u < USERS; u++) {
            memories[u] = randomTokens(rnd, USER_MEMORY_TOKENS);
        }
        int prefix = SYSTEM_PROMPT_TOKENS + USER_MEMORY_TOKENS;
        List<Request> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int turn = Math.min(lognormal(rnd, AGENT_TURN_MEAN), MAX_MODEL_LEN - prefix - 1);
            int[] prompt = new int[prefix + turn];
            System.arraycopy(system, 0, prompt, 0, system.length);
            System.arraycopy(memories[rnd.nextInt(USERS)], 0, prompt, system.length, USER_MEMORY_TOKENS);
            for (int t = prefix; t < prompt.length; t++) {
                prompt[t] = rnd.nextInt(VOCAB);
            }
            int output = Math.min(lognormal(rnd, 250), MAX_MODEL_LEN - prompt.length);
            out.add(new Request(prompt, output, rnd.nextInt(4) == 0 ? 4 : 1));
        }
        return out;
    }

    /** A lognormal draw with the given mean (at least 1). */
    private static int lognormal(SplittableRandom rnd, double mean) {
        double mu = Math.log(mean) - SIGMA * SIGMA / 2;
        double gaussian = Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble());
        return Math.max(1, (int) Math.round(Math.exp(mu + SIGMA * gaussian)));
    }

    private static int[] randomTokens(SplittableRandom rnd, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(VOCAB);
        }
        return t;
    }
}
