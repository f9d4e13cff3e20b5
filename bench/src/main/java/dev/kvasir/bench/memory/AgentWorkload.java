package dev.kvasir.bench.memory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * A generated agent workload with ground truth, deterministic from its seed: {@code sessions}
 * sessions of {@code interactions} user messages, round-robin over {@code users}. Facts are
 * introduced at different times, corrected later ("actually ..."), drowned in chatter, and asked
 * for: each query carries the current value of its fact and every stale value the user gave before.
 * The phrasings are ones the rule extractor reads (a unit test holds them to it), so what is
 * measured is the memory policy, not the extractor.
 */
public record AgentWorkload(long seed, List<Session> sessions) {

    /** What one user message does. */
    public enum Kind { FACT, CORRECTION, CHATTER, QUERY }

    /**
     * One user message. For FACT and CORRECTION, {@code value} is the new value of {@code factKey};
     * for QUERY it is the value a correct memory must give, and {@code stale} the user's earlier values.
     */
    public record Interaction(Kind kind, String text, String factKey, String value, Set<String> stale) {
        public Interaction {
            stale = Set.copyOf(stale);
        }
    }

    public record Session(String user, String id, List<Interaction> interactions) {
        public Session {
            interactions = List.copyOf(interactions);
        }
    }

    /** A fact the workload talks about: how it is stated, corrected and asked for, and its values. */
    record Topic(String key, String statement, String correction, String question, List<String> values) {}

    static final List<Topic> TOPICS = List.of(
            new Topic("user.home_city", "I live in %s", "Actually I moved to %s", "Which city do I live in these days?",
                    List.of("Oslo", "Lisbon", "Nairobi", "Kyoto", "Porto", "Montreal", "Bergen", "Valparaiso")),
            new Topic("user.job", "I work as a %s", "Sorry, I meant I work as a %s", "What do I do for a living?",
                    List.of("nurse", "carpenter", "pilot", "data analyst", "software engineer", "midwife", "librarian", "chemist")),
            new Topic("user.preference.theme", "I prefer %s in every app", "Actually, I prefer %s", "Which theme do I prefer for my apps?",
                    List.of("dark mode", "light mode", "high contrast mode", "sepia mode")),
            new Topic("user.dog_name", "My dog is called %s", "Correction: my dog is called %s", "What is my dog called?",
                    List.of("Biscuit", "Pepper", "Rex", "Juniper", "Waffles", "Comet")),
            new Topic("user.birthday", "My birthday is on %s", "No, my birthday is on %s", "When is my birthday?",
                    List.of("May 3", "June 14", "August 21", "October 9", "January 30", "March 17")),
            new Topic("user.locker_code", "Remember that my locker code is %s", "Actually, my locker code is %s", "What is my locker code?",
                    List.of("4411", "7302", "9158", "2687", "5530", "8824")));

    private static final List<String> CHATTER = List.of(
            "The weather was %s today and we walked along the %s for an hour.",
            "Can you suggest a recipe with %s and %s for dinner?",
            "I read an article about %s and the history of the %s.",
            "Our neighbours painted their fence %s near the %s.",
            "Tell me a short story about a %s and a %s.",
            "How long does it take to boil %s at the %s?",
            "The train was late again because of %s on the %s.",
            "Give me three tips for keeping %s tidy in the %s.");
    private static final List<String> WORDS = List.of("rain", "river", "garlic", "lentils", "volcanoes", "lighthouse", "green",
            "harbour", "fox", "owl", "pasta", "mountain", "leaves", "bridge", "spinach", "kitchen", "snow", "tunnel",
            "paint", "garden", "lantern", "market", "clouds", "meadow");

    /** Shares of a session's messages: facts new to the user, corrections, queries; the rest is chatter. */
    static final double FACT_SHARE = 0.08, CORRECTION_SHARE = 0.06, QUERY_SHARE = 0.22;

    public static AgentWorkload generate(long seed, int users, int sessions, int interactions) {
        if (users < 1 || sessions < 1 || interactions < 1) {
            throw new IllegalArgumentException("users, sessions and interactions must be 1 or more: " + users + ", " + sessions + ", " + interactions);
        }
        Random random = new Random(seed);
        // Per user: the current value of each key, and every value it has had (for stale checks).
        List<Map<String, String>> current = new ArrayList<>();
        List<Map<String, Set<String>>> given = new ArrayList<>();
        for (int u = 0; u < users; u++) {
            current.add(new HashMap<>());
            given.add(new HashMap<>());
        }
        List<Session> out = new ArrayList<>(sessions);
        for (int s = 0; s < sessions; s++) {
            int u = s % users;
            Map<String, String> now = current.get(u);
            List<Interaction> list = new ArrayList<>(interactions);
            for (int i = 0; i < interactions; i++) {
                double r = random.nextDouble();
                List<Topic> unset = TOPICS.stream().filter(t -> !now.containsKey(t.key())).toList();
                List<Topic> set = TOPICS.stream().filter(t -> now.containsKey(t.key())).toList();
                if ((r < FACT_SHARE || set.isEmpty() && r < FACT_SHARE + CORRECTION_SHARE + QUERY_SHARE) && !unset.isEmpty()) {
                    Topic t = unset.get(random.nextInt(unset.size()));
                    String v = t.values().get(random.nextInt(t.values().size()));
                    list.add(new Interaction(Kind.FACT, t.statement().formatted(v), t.key(), v, Set.of()));
                    now.put(t.key(), v);
                    given.get(u).computeIfAbsent(t.key(), k -> new LinkedHashSet<>()).add(v);
                } else if (r < FACT_SHARE + CORRECTION_SHARE && !set.isEmpty()) {
                    Topic t = set.get(random.nextInt(set.size()));
                    String old = now.get(t.key());
                    List<String> others = t.values().stream().filter(v -> !v.equals(old)).toList();
                    String v = others.get(random.nextInt(others.size()));
                    list.add(new Interaction(Kind.CORRECTION, t.correction().formatted(v), t.key(), v, Set.of()));
                    now.put(t.key(), v);
                    given.get(u).get(t.key()).add(v);
                } else if (r < FACT_SHARE + CORRECTION_SHARE + QUERY_SHARE && !set.isEmpty()) {
                    Topic t = set.get(random.nextInt(set.size()));
                    String v = now.get(t.key());
                    Set<String> stale = new LinkedHashSet<>(given.get(u).get(t.key()));
                    stale.remove(v);
                    list.add(new Interaction(Kind.QUERY, t.question(), t.key(), v, stale));
                } else {
                    String c = CHATTER.get(random.nextInt(CHATTER.size()))
                            .formatted(WORDS.get(random.nextInt(WORDS.size())), WORDS.get(random.nextInt(WORDS.size())));
                    list.add(new Interaction(Kind.CHATTER, c, null, null, Set.of()));
                }
            }
            out.add(new Session("user" + u, "s" + s, list));
        }
        return new AgentWorkload(seed, List.copyOf(out));
    }

    /** All interactions in order, for counts. */
    public long count(Kind kind) {
        return sessions.stream().flatMap(s -> s.interactions().stream()).filter(i -> i.kind() == kind).count();
    }
}
