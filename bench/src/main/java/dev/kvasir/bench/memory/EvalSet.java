package dev.kvasir.bench.memory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The memory evaluation set: multi-session dialogues between two people, generated from a seed out
 * of hand-written facts (each with paraphrased evidence turns, paraphrased questions and lure
 * turns that share the questions' words) and chit-chat (facts.txt, fillers.txt beside this class).
 * Each question names the turn ids that answer it. Same seed, same set.
 */
public record EvalSet(List<Conversation> conversations) {

    /** A turn as the protocol writes it: "[date] Speaker: text", with its id (D{session}:{index}). */
    public record Turn(String id, LocalDate date, String text) {
        public String content() {
            return "[" + date + "] " + text;
        }
    }

    public record Question(String text, List<String> evidence) {}

    public record Conversation(String name, List<Turn> turns, List<Question> questions) {}

    private record Fact(List<List<String>> evidence, List<String> questions, List<String> lures) {}

    private static final List<String> NAMES = List.of("Maya", "Jonah", "Priya", "Tom", "Lena", "Omar", "Grace", "Diego",
            "Hana", "Sam", "Ines", "Felix", "Rosa", "Theo", "Nadia", "Ben", "Chloe", "Raj", "Emma", "Luis");

    public static EvalSet generate(long seed, int conversations, int sessions, int factsPerConversation) {
        List<Fact> facts = parseFacts(resource("facts.txt"));
        List<String> fillers = lines(resource("fillers.txt"));
        Random random = new Random(seed);
        List<Conversation> out = new ArrayList<>();
        for (int c = 0; c < conversations; c++) {
            List<String> names = new ArrayList<>(NAMES);
            Collections.shuffle(names, random);
            String a = names.get(0), b = names.get(1);
            List<List<Pending>> bySession = new ArrayList<>();
            for (int s = 0; s < sessions; s++) {
                List<Pending> session = new ArrayList<>();
                int start = random.nextInt(fillers.size()), length = 14 + random.nextInt(6);
                boolean swap = random.nextBoolean();
                for (int i = 0; i < length; i++) {
                    session.add(new Pending(fill(fillers.get((start + i) % fillers.size()), swap ? b : a, swap ? a : b)));
                }
                bySession.add(session);
            }
            List<Fact> chosen = new ArrayList<>(facts);
            Collections.shuffle(chosen, random);
            chosen = chosen.subList(0, Math.min(factsPerConversation, chosen.size()));
            List<PendingQuestion> questions = new ArrayList<>();
            for (Fact f : chosen) {
                boolean aIsSubject = random.nextBoolean();
                String n = aIsSubject ? a : b, o = aIsSubject ? b : a;
                List<Pending> evidence = new ArrayList<>();
                int session = random.nextInt(sessions - f.evidence().size() + 1);
                for (int e = 0; e < f.evidence().size(); e++) {
                    if (e > 0) session += 1 + random.nextInt(sessions - f.evidence().size() + e - session); // a later session
                    Pending p = new Pending(fill(pick(f.evidence().get(e), random), n, o));
                    insert(bySession.get(session), p, random);
                    evidence.add(p);
                }
                for (String lure : f.lures()) insert(bySession.get(random.nextInt(sessions)), new Pending(fill(lure, n, o)), random);
                questions.add(new PendingQuestion(fill(pick(f.questions(), random), n, o), evidence));
            }
            LocalDate date = LocalDate.of(2023, 1, 1).plusDays(random.nextInt(180));
            List<Turn> turns = new ArrayList<>();
            java.util.Map<Pending, String> ids = new java.util.IdentityHashMap<>();
            for (int s = 0; s < sessions; s++) {
                List<Pending> session = bySession.get(s);
                for (int i = 0; i < session.size(); i++) {
                    String id = "D" + (s + 1) + ":" + (i + 1);
                    ids.put(session.get(i), id);
                    turns.add(new Turn(id, date, session.get(i).text()));
                }
                date = date.plusDays(3 + random.nextInt(18));
            }
            List<Question> qs = new ArrayList<>();
            for (PendingQuestion q : questions) qs.add(new Question(q.text(), q.evidence().stream().map(ids::get).toList()));
            out.add(new Conversation("conv-" + (c + 1) + "-" + a.toLowerCase() + "-" + b.toLowerCase(), turns, qs));
        }
        return new EvalSet(out);
    }

    public int turnCount() {
        return conversations.stream().mapToInt(c -> c.turns().size()).sum();
    }

    public int questionCount() {
        return conversations.stream().mapToInt(c -> c.questions().size()).sum();
    }

    /** A turn before ids are given; compared by identity (two turns may say the same). */
    private static final class Pending {
        private final String text;

        Pending(String text) {
            this.text = text;
        }

        String text() {
            return text;
        }
    }

    private record PendingQuestion(String text, List<Pending> evidence) {}

    private static void insert(List<Pending> session, Pending p, Random random) {
        session.add(1 + random.nextInt(session.size()), p);
    }

    private static String pick(List<String> options, Random random) {
        return options.get(random.nextInt(options.size()));
    }

    private static String fill(String template, String n, String o) {
        return template.replace("{n}", n).replace("{o}", o);
    }

    private static List<Fact> parseFacts(String text) {
        List<Fact> facts = new ArrayList<>();
        for (String block : text.split("\\n\\s*\\n")) {
            List<String> e1 = new ArrayList<>(), e2 = new ArrayList<>(), q = new ArrayList<>(), l = new ArrayList<>();
            for (String line : block.split("\\n")) {
                if (line.startsWith("E1: ")) e1.add(line.substring(4));
                else if (line.startsWith("E2: ")) e2.add(line.substring(4));
                else if (line.startsWith("Q: ")) q.add(line.substring(3));
                else if (line.startsWith("L: ")) l.add(line.substring(3));
            }
            if (e1.isEmpty()) continue; // the header comment
            if (q.isEmpty()) throw new IllegalStateException("a fact without questions: " + block);
            facts.add(new Fact(e2.isEmpty() ? List.of(e1) : List.of(e1, e2), q, l));
        }
        return facts;
    }

    private static List<String> lines(String text) {
        return text.lines().filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
    }

    private static String resource(String name) {
        try (InputStream in = EvalSet.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
