package dev.kvasir.memory.facts;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Claims an assistant's reply makes about the user, read by the same rules as the user's own
 * messages: the reply is turned into the user's voice ("you live in Paris" → "I live in Paris",
 * "your name" → "my name"; the assistant's own "I" becomes a word no rule starts with), and a
 * greeting by name ("Hi Bob,") is a claim about the user's name.
 */
public final class ClaimReader {
    private static final int CI = Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE;
    private static final Pattern ASSISTANT_SELF = Pattern.compile("\\b(?:I'm|I am|I've|I'd|I'll|I|me|my|mine|myself)\\b");
    private static final Pattern GREETING = Pattern.compile("^\\s*(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)),?\\s+"
            + "((?-i:[A-Z][a-z]+))\\b", CI);
    private static final Pattern FRAME = Pattern.compile("(?:\\bassistant (?:think|believe|recall|remember|understand|know|see|gather|hear)s?"
            + "(?: that)?[,\\s]+|\\bi (?:told|mentioned to|said to) assistant(?: that)?\\s+|\\bas i (?:said|mentioned)\\s*,?\\s*"
            + "|^(?:since|as|because|given that|now that|so)\\s+)", CI);
    /** ", since you ...": the reason is a claim of its own. */
    private static final Pattern SUBORDINATE = Pattern.compile(",\\s*(?:since|as|because|given that|now that)\\s+", CI);
    private static final String[][] SWAPS = {
            {"you are", "I am"}, {"you're", "I'm"}, {"you were", "I was"}, {"you've", "I've"}, {"you have", "I have"},
            {"you'll", "I'll"}, {"you'd", "I'd"}, {"yourself", "myself"}, {"yours", "mine"}, {"your", "my"}, {"you", "I"}};
    private static final List<Pattern> SWAP_PATTERNS = java.util.Arrays.stream(SWAPS)
            .map(s -> Pattern.compile("\\b" + Pattern.quote(s[0]) + "\\b", CI)).toList();

    private final RuleFactExtractor rules = new RuleFactExtractor();

    /** The facts the reply states about the user (keyed ones only: notes are not claims). */
    public List<Fact> claims(String reply) {
        if (reply == null || reply.isBlank()) return List.of();
        List<Fact> out = new ArrayList<>();
        Matcher greeting = GREETING.matcher(reply);
        if (greeting.lookingAt()) out.add(new Fact(FactKeys.NAME, greeting.group(1), FactKeys.statement(FactKeys.NAME, greeting.group(1)),
                0.7, false, false, 0.5));
        for (Fact f : rules.extract(userVoice(reply), FactContext.NONE)) {
            if (f.key() != null && out.stream().noneMatch(o -> o.key().equals(f.key()))) out.add(f);
        }
        return out;
    }

    /** The reply as if the user said it: second person to first, the assistant's first person out of the way. */
    static String userVoice(String reply) {
        String s = SUBORDINATE.matcher(ASSISTANT_SELF.matcher(reply).replaceAll("assistant")).replaceAll(". ");
        for (int i = 0; i < SWAPS.length; i++) s = SWAP_PATTERNS.get(i).matcher(s).replaceAll(SWAPS[i][1]);
        // Framing ("assistant thinks that", "as I said,") ends where the claim starts: drop it, sentence by sentence.
        StringBuilder out = new StringBuilder();
        for (String sentence : s.split("(?<=[.!?])\\s+|\\n+")) {
            String t = sentence.strip();
            Matcher m = FRAME.matcher(t);
            while (m.lookingAt() && m.end() > 0) {
                t = t.substring(m.end()).strip();
                m = FRAME.matcher(t);
            }
            if (!t.isEmpty()) out.append(Character.toUpperCase(t.charAt(0))).append(t.substring(1)).append(' ');
        }
        return out.toString().strip();
    }
}
