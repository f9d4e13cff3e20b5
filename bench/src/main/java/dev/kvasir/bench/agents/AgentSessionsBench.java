package dev.kvasir.bench.agents;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.bench.decode.DecodeBenchSupport;
import dev.kvasir.models.loader.LoadedModel;
import dev.kvasir.models.loader.ModelLoader;
import dev.kvasir.models.tokenizer.Tokenizer;
import dev.kvasir.models.tokenizer.Tokenizers;
import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.api.MemoryPlacement;
import dev.kvasir.server.engine.EngineConfig;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code scripts/bench agent-sessions}: simulated agents (users × turns, each turn a streamed chat
 * request that carries only the new user message; the server keeps the history and injects
 * memories) against Kvasir in three configurations, and optionally any OpenAI-compatible server
 * given with {@code --url} (client-side history: the whole conversation each turn):
 * <ol>
 * <li>{@code stable}: memories placed per turn (the prompt only grows), session KV retention;</li>
 * <li>{@code unstable}: memories re-retrieved into one block after the system prompt each turn, in a
 * new order (what a memory layer that knows nothing of the KV cache does);</li>
 * <li>{@code lru}: stable placement, plain LRU eviction of cached prefixes;</li>
 * <li>{@code url}: the other server.</li>
 * </ol>
 * Agents think between turns (their tools run), so a few sessions run at a time while the others
 * wait; meanwhile background clients send one-off completions with unique prompts, so the KV pool
 * ({@link #defaultKvBlocks}: the running agents fit, every session's prefix does not) is under
 * pressure: which cached blocks of the idle sessions survive is what retention decides. The server's
 * preemptions and prefix-cache evictions over each run are printed beside the figures.
 * Prints, per configuration, time to first token p50/p95,
 * prompt tokens computed per turn (prompt minus cached), total tok/s and prefix hit rate; writes the
 * table and a PNG chart to {@code bench/results/}.
 */
public final class AgentSessionsBench {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String[] NAMES = {"ana", "ben", "chloe", "dev", "eli", "fay", "gus", "hana", "ivan", "jo", "kai",
            "lea", "max", "nia", "oto", "pia"};
    private static final String[] TOPICS = {"flight", "hotel", "dentist", "gym", "car", "garden", "bank", "school",
            "passport", "insurance", "dinner", "train", "plumber", "birthday", "tax", "library", "vet", "laptop",
            "concert", "rent"};

    record Options(Path model, int users, int turns, int systemTokens, int memoriesPerUser, int replyTokens,
                   int kvBlocks, int background, int backgroundTokens, int thinkMillis, String url, List<String> configs,
                   int threads, long seed, int rounds) {}

    /** One agent turn as the client saw it; {@code cached} is -1 when the server does not say. */
    record Turn(int user, int turn, double ttftMs, int prompt, int cached, int completion, String error) {
        boolean ok() {
            return error == null;
        }
    }

    /**
     * {@code preemptions} and {@code evictions} are the server's {@code vllm:num_preemptions} and
     * {@code kvasir:prefix_cache_evictions} over the run (-1 for another server).
     */
    record Result(String config, List<Turn> turns, double seconds, long backgroundRequests, int kvBlocks, long preemptions,
                  long evictions) {
        List<Turn> ok() {
            return turns.stream().filter(Turn::ok).toList();
        }

        double ttft(double p) {
            return percentile(ok().stream().mapToDouble(Turn::ttftMs).sorted().toArray(), p);
        }

        /** Prompt tokens computed per turn: prompt minus cached (NaN when the server reports no cached count). */
        double computedPerTurn() {
            List<Turn> ok = ok();
            if (ok.isEmpty() || ok.stream().anyMatch(t -> t.cached() < 0)) return Double.NaN;
            return ok.stream().mapToDouble(t -> t.prompt() - t.cached()).average().orElse(Double.NaN);
        }

        double hitRate() {
            List<Turn> ok = ok();
            if (ok.stream().anyMatch(t -> t.cached() < 0)) return Double.NaN;
            long prompt = ok.stream().mapToLong(Turn::prompt).sum(), cached = ok.stream().mapToLong(Turn::cached).sum();
            return prompt == 0 ? Double.NaN : (double) cached / prompt;
        }

        /** Agent tokens through the model per second: prompt tokens computed plus tokens generated. */
        double tokensPerSecond() {
            List<Turn> ok = ok();
            double computed = ok.stream().mapToDouble(t -> t.prompt() - Math.max(0, t.cached()) + t.completion()).sum();
            return computed / seconds;
        }

        long failures() {
            return turns.stream().filter(t -> !t.ok()).count();
        }

        /** Two rounds of one configuration as one: their turns together, over their summed time. */
        Result plus(Result other) {
            List<Turn> both = new ArrayList<>(turns);
            both.addAll(other.turns);
            return new Result(config, both, seconds + other.seconds, backgroundRequests + other.backgroundRequests, kvBlocks,
                    preemptions + other.preemptions, evictions + other.evictions);
        }
    }

    public static void main(String[] args) throws Exception {
        Options o = parse(args);
        Texts texts;
        try (LoadedModel m = ModelLoader.load(o.model())) {
            texts = new Texts(o, Tokenizers.load(m));
        }
        System.out.printf(Locale.ROOT, "agent-sessions: %s, %d users x %d turns, ~%d-token system prompt, %d memories per user,"
                        + " %d-token replies, %d background clients (%d-token prompts), %d ms think time, %d cores%n",
                o.model().getFileName(), o.users(), o.turns(), o.systemTokens(), o.memoriesPerUser(), o.replyTokens(),
                o.background(), o.backgroundTokens(), o.thinkMillis(), Runtime.getRuntime().availableProcessors());
        int system = blocks(texts.systemTokens), bg = backgroundBlocks(texts);
        String sizing = String.format(Locale.ROOT, "sizes in %d-token blocks: system prompt %d (%d tokens), a session's history"
                        + " %d after its first turn and at most %d after its last, a background prompt %d (%d tokens)%n", BLOCK, system,
                texts.systemTokens, blocks(texts.firstTurnTokens), blocks(texts.sessionTokens), bg, texts.backgroundTokens)
                + String.format(Locale.ROOT, "KV pool: %d blocks%s%n", o.kvBlocks() > 0 ? o.kvBlocks() : defaultKvBlocks(o, texts),
                o.kvBlocks() > 0 ? " (--kv-blocks)" : String.format(Locale.ROOT, " = (system %d + %d sessions x mean history %d"
                        + " (or half the sessions at their longest, if more) + %d background prompts x %d) / 0.99 watermark + 1:"
                        + " the running agents fit; every session's prefix does not from mid-run on, nor the idle sessions'"
                        + " beside the background's one-off prompts", system, o.users(), meanSessionBlocks(texts), o.background(), bg));
        System.out.print(sizing);
        // Rounds alternate the order (A B C, then C B A, ...), each configuration in a fresh server: the JIT's warmth
        // and the host's moods then fall on every configuration alike. A configuration's rounds are pooled.
        // The file is rewritten after every run, so a run stopped early keeps what it measured.
        String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        Path dir = Path.of("bench", "results");
        Files.createDirectories(dir);
        Path txt = dir.resolve("agent-sessions-" + stamp + ".txt");
        String header = String.format(Locale.ROOT, "%s, %d users x %d turns, system %d tokens, background %d x %d tokens,"
                        + " think %d ms, %d cores%n", o.model().getFileName(), o.users(), o.turns(), o.systemTokens(), o.background(),
                o.backgroundTokens(), o.thinkMillis(), Runtime.getRuntime().availableProcessors()) + sizing;
        StringBuilder rounds = new StringBuilder();
        java.util.Map<String, Result> pooled = new java.util.LinkedHashMap<>();
        for (int round = 0; round < o.rounds(); round++) {
            List<String> order = new ArrayList<>(o.configs());
            if (round % 2 == 1) java.util.Collections.reverse(order);
            for (String config : order) {
                Result r = config.equals("url") ? runAgainst(o.url(), o, texts) : runKvasir(config, o, texts);
                String line = (o.rounds() > 1 ? "round " + (round + 1) + " " : "") + row(r);
                System.out.println(line);
                rounds.append(line).append('\n');
                pooled.merge(config, r, Result::plus);
                List<Result> sofar = o.configs().stream().filter(pooled::containsKey).map(pooled::get).toList();
                Files.writeString(txt, header + (o.rounds() > 1 ? "runs in order:\n" + rounds + "pooled:\n" : "") + table(sofar)
                        + verdict(sofar));
            }
        }
        List<Result> results = o.configs().stream().map(pooled::get).toList();
        String table = table(results);
        System.out.println();
        System.out.print(table);
        String verdict = verdict(results);
        System.out.print(verdict);
        Path png = dir.resolve("agent-sessions-" + stamp + ".png");
        AgentSessionsChart.write(results, png, o.model().getFileName().toString());
        System.out.println("written to " + txt + " and " + png);
    }

    private static Options parse(String[] args) {
        Path model = null;
        String shape = "smol135";
        int users = 8, turns = 20, system = 1000, memories = 12, reply = 16, kvBlocks = 0, background = 4, bgTokens = 512,
                think = 2000, threads = 0, rounds = 1;
        long seed = 7;
        String url = null;
        List<String> configs = new ArrayList<>(List.of("stable", "unstable", "lru"));
        for (int i = 0; i < args.length; i++) {
            String v = i + 1 < args.length ? args[i + 1] : "";
            switch (args[i]) {
                case "--model" -> { model = Path.of(v); i++; }
                case "--shape" -> { shape = v; i++; }
                case "--users" -> { users = Integer.parseInt(v); i++; }
                case "--turns" -> { turns = Integer.parseInt(v); i++; }
                case "--system-tokens" -> { system = Integer.parseInt(v); i++; }
                case "--memories" -> { memories = Integer.parseInt(v); i++; }
                case "--reply-tokens" -> { reply = Integer.parseInt(v); i++; }
                case "--kv-blocks" -> { kvBlocks = Integer.parseInt(v); i++; }
                case "--background" -> { background = Integer.parseInt(v); i++; }
                case "--background-tokens" -> { bgTokens = Integer.parseInt(v); i++; }
                case "--think-ms" -> { think = Integer.parseInt(v); i++; }
                case "--threads" -> { threads = Integer.parseInt(v); i++; }
                case "--seed" -> { seed = Long.parseLong(v); i++; }
                case "--rounds" -> { rounds = Integer.parseInt(v); i++; }
                case "--url" -> { url = v; i++; }
                case "--configs" -> { configs = new ArrayList<>(List.of(v.split(","))); i++; }
                default -> usage("unknown argument " + args[i]);
            }
        }
        if (url != null && !configs.contains("url")) configs.add("url");
        for (String c : configs) {
            if (!List.of("stable", "unstable", "lru", "url").contains(c)) usage("unknown configuration " + c);
            if (c.equals("url") && url == null) usage("configuration url needs --url");
        }
        if (users < 1 || users > NAMES.length) usage("--users must be 1.." + NAMES.length);
        if (rounds < 1) usage("--rounds must be 1 or more");
        if (model == null) model = DecodeBenchSupport.ensureModel(Path.of("bench", "models"), shape, "q8_0", "agent-sessions");
        return new Options(model, users, turns, system, memories, reply, kvBlocks, background, bgTokens, think, url, configs,
                threads, seed, rounds);
    }

    private static void usage(String problem) {
        System.err.println("agent-sessions: " + problem);
        System.err.println("usage: scripts/bench agent-sessions [--shape smol135|tiny1b | --model FILE] [--users 8] [--turns 20]"
                + " [--system-tokens 1000] [--memories 12] [--reply-tokens 16]"
                + " [--kv-blocks N (default: the running agents fit, every session does not)]"
                + " [--background 4] [--background-tokens 512] [--think-ms 2000 (an agent waiting on its tools; each pause 0.5-1.5x)]"
                + " [--threads N] [--configs stable,unstable,lru]"
                + " [--rounds N (alternating order, pooled)]"
                + " [--url http://HOST:PORT (adds the url configuration)]");
        System.exit(2);
    }

    /**
     * The texts every configuration sends: the same system prompt, memories, questions and background prompts,
     * sized in the model's own tokens (word counts are far off: a random-weight vocabulary splits words finely).
     */
    static final class Texts {
        final String system;
        final int systemTokens;
        final List<List<String>> memories = new ArrayList<>();
        final List<List<String>> questions = new ArrayList<>();
        /** The most tokens one session's history can reach (an upper bound, measured against the server's prompts). */
        final int sessionTokens;
        /** Its first turn's. */
        final int firstTurnTokens;
        /** Tokens of one background prompt (their words are random, their length about this). */
        final int backgroundTokens;
        final int backgroundWords;
        private final Tokenizer tokenizer;

        Texts(Options o, Tokenizer tokenizer) {
            this.tokenizer = tokenizer;
            StringBuilder s = new StringBuilder("You are the household assistant of a busy family. Follow these rules.\n");
            for (int rule = 1; count(s.toString()) < o.systemTokens(); rule++) {
                s.append("Rule ").append(rule).append(": when a request mentions the ").append(TOPICS[rule % TOPICS.length])
                        .append(", check the calendar, confirm the budget, and answer in at most two sentences.\n");
            }
            system = s.toString();
            systemTokens = count(system);
            SplittableRandom random = new SplittableRandom(o.seed());
            int longest = 0, first = 0;
            for (int u = 0; u < o.users(); u++) {
                List<String> mine = new ArrayList<>(), asks = new ArrayList<>();
                int memoryLine = 0;
                for (int m = 0; m < o.memoriesPerUser(); m++) {
                    String topic = TOPICS[(u * 7 + m) % TOPICS.length];
                    mine.add(cap(NAMES[u]) + "'s " + topic + " note: booked for day " + (1 + random.nextInt(28))
                            + ", reference " + Integer.toHexString(random.nextInt(1 << 20)) + ".");
                    memoryLine = Math.max(memoryLine, count(mine.getLast()));
                }
                // A turn adds its question, the reply, the template's tokens and the memories new to the session: up
                // to three (top_k), seeded ones or the records of earlier turns (a question and its reply).
                int tokens = 0;
                for (int t = 0; t < o.turns(); t++) {
                    String topic = TOPICS[(u * 7 + random.nextInt(o.memoriesPerUser())) % TOPICS.length];
                    asks.add("Turn " + (t + 1) + ": what do I need to know about my " + topic + " this week?");
                    int question = count(asks.getLast());
                    int turn = question + o.replyTokens() + TURN_TEMPLATE_TOKENS
                            + 3 * (Math.max(memoryLine, question + 2 * o.replyTokens()) + MEMORY_LINE_TOKENS);
                    tokens += turn;
                    if (t == 0) first = Math.max(first, turn);
                }
                memories.add(mine);
                questions.add(asks);
                longest = Math.max(longest, tokens);
            }
            sessionTokens = longest;
            firstTurnTokens = first;
            // Background words are a topic and a number: size the word count on a sample, then measure a prompt.
            int words = Math.max(1, o.backgroundTokens() / 3);
            for (int i = 0; i < 3; i++) {
                int n = count(backgroundPrompt(words, new SplittableRandom(o.seed() + i)));
                words = Math.max(1, (int) Math.round((double) words * o.backgroundTokens() / n));
            }
            backgroundWords = words;
            backgroundTokens = count(backgroundPrompt(words, new SplittableRandom(o.seed())));
        }

        int count(String text) {
            return tokenizer.encode(text, true, false).length;
        }

        static String backgroundPrompt(int words, SplittableRandom random) {
            StringBuilder b = new StringBuilder("Summarize this log:");
            for (int w = 0; w < words; w++) b.append(' ').append(TOPICS[random.nextInt(TOPICS.length)]).append(random.nextInt(100));
            return b.toString();
        }

        private static String cap(String s) {
            return Character.toUpperCase(s.charAt(0)) + s.substring(1);
        }
    }

    /** Tokens the memory block adds around one memory (its source and date, the quotes): an upper bound. */
    private static final int MEMORY_LINE_TOKENS = 36;
    /** Tokens the chat template and the memory block's header add per turn: an upper bound. */
    private static final int TURN_TEMPLATE_TOKENS = 40;
    private static final int BLOCK = 16;

    /**
     * The default KV pool, the "memory pressure" (a pool too small for every session's prefix) for
     * agents that think between turns: the shared system prompt, every session's history at its mean size
     * over the run (halfway between its first turn's and its last's), the background's prompts in flight and
     * the admission watermark. The agents running at a time always fit (nothing needs preempting); every
     * session's prefix does not, from mid-run on, nor while agents think do the idle sessions' prefixes and
     * the one-off prompts the background sends meanwhile: which cached blocks survive is what retention
     * decides.
     */
    static int defaultKvBlocks(Options o, Texts texts) {
        // At least half the agents running at once at their longest (with agents thinking, fewer run at a time).
        int sessions = Math.max(o.users() * meanSessionBlocks(texts), (o.users() + 1) / 2 * (blocks(texts.sessionTokens) + 1));
        // The server's own floor: one sequence of max-model-len beside the watermark.
        int needed = Math.max(blocks(texts.systemTokens) + sessions + o.background() * backgroundBlocks(texts),
                maxModelLen(texts) / BLOCK);
        return (int) Math.ceil(needed / (1 - 0.01)) + 1; // the 1% admission watermark, rounded up
    }

    /** The longest session's last prompt and reply, with room to spare, in whole blocks. */
    private static int maxModelLen(Texts texts) {
        return blocks(texts.systemTokens + texts.sessionTokens + 64) * BLOCK;
    }

    private static int meanSessionBlocks(Texts texts) {
        return (blocks(texts.firstTurnTokens) + blocks(texts.sessionTokens)) / 2 + 1; // + a partial last block
    }

    private static int backgroundBlocks(Texts texts) {
        return blocks(texts.backgroundTokens + 4) + 1;
    }

    private static int blocks(int tokens) {
        return (tokens + BLOCK - 1) / BLOCK;
    }

    private static Result runKvasir(String config, Options o, Texts texts) throws Exception {
        Path dir = Files.createTempDirectory("kvasir-agent-sessions");
        int maxModelLen = maxModelLen(texts);
        int kvBlocks = o.kvBlocks() > 0 ? o.kvBlocks() : defaultKvBlocks(o, texts);
        ServerConfig.Builder b = ServerConfig.builder(o.model()).servedModelName("agents").maxModelLen(maxModelLen)
                .numKvBlocks(kvBlocks).maxNumSeqs(o.users() + o.background()).memoryStore("sqlite:" + dir.resolve("memory.db"))
                .memoryPlacement(config.equals("unstable") ? MemoryPlacement.BLOCK : MemoryPlacement.TURN)
                .kvRetention(config.equals("lru") ? EngineConfig.KvRetention.LRU : EngineConfig.KvRetention.SESSION)
                .ui(false);
        if (o.threads() > 0) b.threads(o.threads());
        try (KvasirServer server = KvasirServer.start(b.build())) {
            HttpClient http = client();
            for (int u = 0; u < o.users(); u++) {
                for (String m : texts.memories.get(u)) {
                    ObjectNode body = JSON.createObjectNode().put("user", NAMES[u]).put("content", m);
                    HttpResponse<String> r = post(http, server.baseUrl() + "/v1/memories", body);
                    if (r.statusCode() != 201) throw new IllegalStateException("seeding memories: HTTP " + r.statusCode() + " " + r.body());
                }
            }
            // Warm the JIT and the system prompt's blocks once, as a server that has been up a while would have.
            streamChat(http, server.baseUrl(), request(o, texts, 0, -1, null, "warm"), o.replyTokens());
            double[] before = counters(http, server.baseUrl());
            Result r = run(config, server.baseUrl(), o, texts, kvBlocks);
            double[] after = counters(http, server.baseUrl());
            return new Result(r.config(), r.turns(), r.seconds(), r.backgroundRequests(), kvBlocks,
                    Math.round(after[0] - before[0]), Math.round(after[1] - before[1]));
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static Result runAgainst(String url, Options o, Texts texts) throws Exception {
        return run("url", url.replaceAll("/+$", ""), o, texts, -1);
    }

    private static Result run(String config, String base, Options o, Texts texts, int kvBlocks) throws Exception {
        HttpClient http = client();
        boolean external = config.equals("url");
        AtomicBoolean agentsDone = new AtomicBoolean();
        AtomicLong backgroundRequests = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(o.users() + o.background());
        List<Future<?>> background = new ArrayList<>();
        for (int c = 0; c < o.background(); c++) {
            SplittableRandom random = new SplittableRandom(o.seed() * 31 + c);
            background.add(pool.submit(() -> {
                while (!agentsDone.get()) {
                    ObjectNode body = JSON.createObjectNode().put("model", "agents")
                            .put("prompt", Texts.backgroundPrompt(texts.backgroundWords, random)).put("max_tokens", 4)
                            .put("temperature", 0);
                    try {
                        post(http, base + "/v1/completions", body);
                        backgroundRequests.incrementAndGet();
                    } catch (IOException e) {
                        // a busy server refusing is part of the background's life; the agents' turns are what is measured
                    }
                }
                return null;
            }));
        }
        long start = System.nanoTime();
        List<Future<List<Turn>>> agents = new ArrayList<>();
        for (int u = 0; u < o.users(); u++) {
            int user = u;
            agents.add(pool.submit(() -> {
                List<Turn> turns = new ArrayList<>();
                List<String[]> history = new ArrayList<>(); // client-side history, for the url configuration
                // Agents are not in step: each starts within one think time and thinks 0.5-1.5x it (seeded, the same
                // schedule for every configuration).
                SplittableRandom jitter = new SplittableRandom(o.seed() * 131 + user);
                Thread.sleep((long) (o.thinkMillis() * jitter.nextDouble()));
                for (int t = 0; t < o.turns(); t++) {
                    ObjectNode body = request(o, texts, user, t, external ? history : null, "s" + user);
                    Turn turn = streamChat(http, base, body, o.replyTokens(), user, t);
                    turns.add(turn);
                    if (external) history.add(new String[] {texts.questions.get(user).get(t), turn.error() == null ? lastReply.get() : ""});
                    Thread.sleep((long) (o.thinkMillis() * (0.5 + jitter.nextDouble())));
                }
                return turns;
            }));
        }
        List<Turn> all = new ArrayList<>();
        for (Future<List<Turn>> f : agents) all.addAll(f.get(2, TimeUnit.HOURS));
        double seconds = (System.nanoTime() - start) / 1e9;
        agentsDone.set(true);
        for (Future<?> f : background) f.get(10, TimeUnit.MINUTES);
        pool.shutdown();
        return new Result(config, all, seconds, backgroundRequests.get(), kvBlocks, -1, -1);
    }

    /** The server's preemptions and prefix-cache evictions so far, from {@code /metrics}. */
    private static double[] counters(HttpClient http, String base) throws IOException, InterruptedException {
        String text = http.send(HttpRequest.newBuilder(URI.create(base + "/metrics")).GET().build(),
                HttpResponse.BodyHandlers.ofString()).body();
        double[] out = new double[2];
        for (String line : text.split("\n")) {
            int at = line.startsWith("vllm:num_preemptions") ? 0 : line.startsWith("kvasir:prefix_cache_evictions") ? 1 : -1;
            if (at >= 0) out[at] = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
        }
        return out;
    }

    /** The reply text of this thread's last streamed chat (the url configuration's client-side history). */
    private static final ThreadLocal<String> lastReply = ThreadLocal.withInitial(() -> "");

    /**
     * The body of a user's turn {@code t} ({@code t < 0}: a warm-up): server-kept history and memory,
     * or with {@code history} non-null the whole conversation from the client and no memory object.
     */
    private static ObjectNode request(Options o, Texts texts, int user, int t, List<String[]> history, String session) {
        ObjectNode body = JSON.createObjectNode().put("model", "agents").put("max_tokens", o.replyTokens())
                .put("temperature", 0).put("ignore_eos", true).put("stream", true);
        body.putObject("stream_options").put("include_usage", true);
        ArrayNode messages = body.putArray("messages");
        messages.addObject().put("role", "system").put("content", texts.system);
        String question = t < 0 ? "Hello, are you there?" : texts.questions.get(user).get(t);
        if (history != null) {
            body.put("cache_prompt", true); // llama.cpp's server: reuse the slot's KV
            for (String[] h : history) {
                messages.addObject().put("role", "user").put("content", h[0]);
                messages.addObject().put("role", "assistant").put("content", h[1]);
            }
            messages.addObject().put("role", "user").put("content", question);
            return body;
        }
        messages.addObject().put("role", "user").put("content", question);
        body.put("user", NAMES[user]);
        ObjectNode memory = body.putObject("memory").put("session_id", session).put("history", "server").put("top_k", 3);
        if (t < 0) memory.put("write", false);
        return body;
    }

    private static Turn streamChat(HttpClient http, String base, ObjectNode body, int replyTokens) {
        return streamChat(http, base, body, replyTokens, -1, -1);
    }

    private static Turn streamChat(HttpClient http, String base, ObjectNode body, int replyTokens, int user, int turn) {
        long start = System.nanoTime();
        try {
            HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
                    .header("Content-Type", "application/json").timeout(Duration.ofMinutes(30))
                    .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build();
            HttpResponse<java.util.stream.Stream<String>> response = http.send(request, HttpResponse.BodyHandlers.ofLines());
            if (response.statusCode() != 200) {
                String text = String.join("\n", response.body().toList());
                return new Turn(user, turn, 0, 0, 0, 0, "HTTP " + response.statusCode() + " " + text);
            }
            long first = 0;
            int prompt = -1, cached = -1, completion = 0;
            StringBuilder reply = new StringBuilder();
            for (Iterator<String> it = response.body().iterator(); it.hasNext(); ) {
                String line = it.next();
                if (!line.startsWith("data: ") || line.equals("data: [DONE]")) continue;
                JsonNode event = JSON.readTree(line.substring(6));
                if (event.has("error")) return new Turn(user, turn, 0, 0, 0, 0, event.get("error").toString());
                JsonNode usage = event.path("usage");
                if (usage.has("prompt_tokens")) {
                    prompt = usage.get("prompt_tokens").asInt();
                    completion = usage.path("completion_tokens").asInt();
                    if (usage.path("prompt_tokens_details").has("cached_tokens")) {
                        cached = usage.get("prompt_tokens_details").get("cached_tokens").asInt();
                    }
                }
                // llama.cpp's server: the last chunk's timings say how many prompt tokens it computed.
                JsonNode timings = event.path("timings");
                if (cached < 0 && timings.has("prompt_n") && prompt >= 0) cached = prompt - timings.get("prompt_n").asInt();
                for (JsonNode c : event.path("choices")) {
                    String text = c.path("delta").path("content").asText("");
                    if (!text.isEmpty() && first == 0) first = System.nanoTime();
                    reply.append(text);
                }
            }
            lastReply.set(reply.toString());
            if (first == 0) first = System.nanoTime();
            if (prompt < 0) return new Turn(user, turn, 0, 0, 0, 0, "no usage in the stream");
            return new Turn(user, turn, (first - start) / 1e6, prompt, cached, completion, null);
        } catch (IOException | InterruptedException e) {
            return new Turn(user, turn, 0, 0, 0, 0, e.toString());
        }
    }

    private static HttpClient client() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build();
    }

    private static HttpResponse<String> post(HttpClient http, String url, ObjectNode body) throws IOException {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/json")
                    .timeout(Duration.ofMinutes(30)).POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    static double percentile(double[] sorted, double p) {
        if (sorted.length == 0) return Double.NaN;
        int rank = (int) Math.ceil(p * sorted.length) - 1; // nearest rank
        return sorted[Math.clamp(rank, 0, sorted.length - 1)];
    }

    private static String row(Result r) {
        return String.format(Locale.ROOT, "%-9s %6d %9.0f %9.0f %12.1f %9.1f %8.1f%% %9d %7d %9d %9d %9d", r.config(),
                r.ok().size(), r.ttft(0.5), r.ttft(0.95), r.computedPerTurn(), r.tokensPerSecond(), 100 * r.hitRate(),
                r.backgroundRequests(), r.failures(), r.kvBlocks(), r.preemptions(), r.evictions());
    }

    private static String table(List<Result> results) {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-9s %6s %9s %9s %12s %9s %9s %9s %7s %9s %9s %9s%n",
                "config", "turns", "TTFT p50", "TTFT p95", "computed/turn", "tok/s", "hit rate", "bg reqs", "failed", "kv blocks",
                "preempted", "evicted"));
        sb.append(String.format(Locale.ROOT, "%-9s %6s %9s %9s %12s %9s %9s %9s %7s %9s %9s %9s%n", "", "", "(ms)", "(ms)",
                "(tokens)", "", "", "", "", "", "", "(blocks)"));
        for (Result r : results) sb.append(row(r)).append('\n');
        return sb.toString();
    }

    /** The two targets, where the configurations they compare were run. */
    private static String verdict(List<Result> results) {
        Result stable = find(results, "stable"), unstable = find(results, "unstable"), lru = find(results, "lru");
        StringBuilder sb = new StringBuilder();
        if (stable != null && unstable != null) {
            double ratio = unstable.computedPerTurn() / stable.computedPerTurn();
            sb.append(String.format(Locale.ROOT, "prompt tokens computed per turn: unstable / stable = %.2fx (target >= 3x): %s%n",
                    ratio, ratio >= 3 ? "met" : "NOT met"));
        }
        if (stable != null && lru != null) {
            double ratio = stable.ttft(0.5) / lru.ttft(0.5);
            sb.append(String.format(Locale.ROOT, "TTFT p50: stable / lru = %.2f (target <= 0.5): %s%n", ratio,
                    ratio <= 0.5 ? "met" : "NOT met"));
        }
        return sb.toString();
    }

    private static Result find(List<Result> results, String config) {
        return results.stream().filter(r -> r.config().equals(config)).findFirst().orElse(null);
    }
}
