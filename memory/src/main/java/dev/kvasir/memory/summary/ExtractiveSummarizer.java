package dev.kvasir.memory.summary;

import dev.kvasir.memory.ChatTurn;
import dev.kvasir.memory.TokenCounter;
import dev.kvasir.memory.facts.Fact;
import dev.kvasir.memory.facts.FactContext;
import dev.kvasir.memory.facts.RuleFactExtractor;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A summary made of what the turns said, for models too small to write one: first every fact the
 * rules find in the user's turns (as statements, the later value of a key replacing the earlier),
 * then the user's sentences that carry a decision, a plan or a request, then the first sentence of
 * the other user turns, oldest first, as long as they fit. Assistant turns are left out: they
 * answer, the user's turns hold what matters about the user.
 */
public final class ExtractiveSummarizer implements Summarizer {
    private static final Pattern DECISION = Pattern.compile("\\b(?:decid|agree|will|plan|going to|want|need|prefer|choose|chose|pick"
            + "|book|buy|remember|deadline|must|let's)\\w*", Pattern.CASE_INSENSITIVE);
    private static final int MAX_SENTENCE_WORDS = 24;

    private final RuleFactExtractor rules = new RuleFactExtractor();

    @Override
    public String summarize(List<ChatTurn> turns, int maxTokens, TokenCounter counter) {
        java.util.Map<String, String> facts = new java.util.LinkedHashMap<>();
        List<String> notes = new ArrayList<>();
        Set<String> decisions = new LinkedHashSet<>();
        Set<String> others = new LinkedHashSet<>();
        String lastKey = null;
        for (ChatTurn t : turns) {
            if (!"user".equals(t.role())) continue;
            for (Fact f : rules.extract(t.content(), new FactContext(lastKey))) {
                if (f.key() == null) notes.add(f.statement());
                else {
                    facts.remove(f.key());
                    facts.put(f.key(), f.statement());
                    lastKey = f.key();
                }
            }
            boolean first = true;
            for (String sentence : t.content().split("(?<=[.!?])\\s+|\\n+")) {
                String s = shorten(sentence.strip());
                if (s.isEmpty() || s.endsWith("?")) continue;
                if (DECISION.matcher(s).find()) decisions.add(s);
                else if (first) others.add(s);
                first = false;
            }
        }
        List<String> lines = new ArrayList<>();
        facts.values().forEach(s -> lines.add(s + "."));
        lines.addAll(notes);
        decisions.forEach(s -> lines.add("The user said: \"" + s + "\""));
        others.forEach(s -> lines.add("The user said: \"" + s + "\""));
        StringBuilder out = new StringBuilder("Earlier in this conversation:");
        for (String line : lines) {
            String next = out + "\n- " + line;
            if (counter.count(next) > maxTokens) break;
            out.setLength(0);
            out.append(next);
        }
        return out.indexOf("\n") < 0 ? null : out.toString();
    }

    private static String shorten(String sentence) {
        String[] words = sentence.split("\\s+");
        return words.length <= MAX_SENTENCE_WORDS ? sentence : String.join(" ", java.util.Arrays.copyOf(words, MAX_SENTENCE_WORDS)) + " ...";
    }
}
