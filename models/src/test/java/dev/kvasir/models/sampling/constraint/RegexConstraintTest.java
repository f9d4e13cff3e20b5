package dev.kvasir.models.sampling.constraint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code guided_regex}: every output matches under java.util.regex, and the automaton agrees with
 * java.util.regex on outputs and on mutations of them (so it is neither too loose nor too strict).
 */
class RegexConstraintTest {

    static final String[] REGEXES = {
            "[a-z]+", "\\d{3}-\\d{2,4}", "(yes|no|maybe)", "[A-Z][a-z]*( [A-Z][a-z]*){0,3}", "\\w+@\\w+\\.(com|org)",
            "-?(0|[1-9]\\d*)(\\.\\d+)?", "[^\\s]{1,8}", "a{2}b{0,3}c?", "(ab|cd)*e", "[\\u00e0-\\u00ff]{1,3}x",
            "\\{\"k\": [0-9]\\}", "(?:x|y)+z", "[a-c&&]?", "\\.\\*\\+\\?", "[\\-+]?[0-9]+", "(?<word>[a-z]{2})\\s?[0-9]",
            "[^a-z0-9]{2}", ".{1,5}", "é+ü?", "[0-9a-fA-F]{4}", "(\\d\\d:){2}\\d\\d", "(a|ab)(c|bcd)(d*)",
            "\\S+ \\S+", "[\\x41-\\x43]+", "(red|green|blue)-(\\d|x)+", "😀+", "[^\\u0000-\\u007f]+", "ab*?c"};

    @Test
    void everyOutputMatchesAndTheAutomatonAgreesWithJavaRegex() {
        List<String> failures = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(5);
        int checked = 0;
        for (String regex : REGEXES) {
            if (regex.contains("&&")) continue; // refused, see below
            Pattern pattern = Pattern.compile(regex);
            CompiledConstraint c = Fixtures.llama2Constraints().regex(regex);
            for (int seed = 0; seed < 12; seed++) {
                Fixtures.Decoded d = Fixtures.decode(c, Fixtures.llama2(), seed, 200, 2f);
                if (!d.complete()) failures.add(regex + ": unfinished " + d.text());
                else if (!pattern.matcher(d.text()).matches()) failures.add(regex + ": output '" + d.text() + "' does not match");
                // Mutations of the output: the automaton and java.util.regex must agree either way.
                for (int k = 0; k < 8; k++) {
                    String m = mutate(d.text(), r);
                    boolean expected = pattern.matcher(m).matches();
                    if (Fixtures.accepts(c, m) != expected) failures.add(regex + ": on '" + m + "' java says " + expected);
                    checked++;
                }
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
        assertTrue(checked > 1000);
    }

    private static String mutate(String s, SplittableRandom r) {
        String alphabet = "abcxyz019 -.@é😀\"\\\n";
        StringBuilder sb = new StringBuilder(s);
        int edits = 1 + r.nextInt(2);
        for (int i = 0; i < edits; i++) {
            int op = r.nextInt(3);
            int at = sb.isEmpty() ? 0 : r.nextInt(sb.length());
            String c = new String(Character.toChars(alphabet.codePointAt(alphabet.offsetByCodePoints(0, r.nextInt(alphabet.codePointCount(0, alphabet.length()))))));
            if (op == 0 || sb.isEmpty()) sb.insert(at, c);
            else if (op == 1 && !Character.isSurrogate(sb.charAt(at))) sb.deleteCharAt(at);
            else if (!Character.isSurrogate(sb.charAt(at))) sb.replace(at, at + 1, c);
        }
        return sb.toString();
    }

    @ParameterizedTest
    @CsvSource(delimiter = '~', value = {
            "(a)\\1~backreference", "a(?=b)~lookahead", "a(?!b)~negative lookahead", "(?<=a)b~lookbehind", "\\bword~boundary",
            "(?i)abc~flags", "a*+~possessive", "\\p{L}+~Unicode property", "[a-z&&[^c]]~intersection", "^a|b$~alternation",
            "a^b~anchor", "[a-~unclosed", "a{3,1}~max below min", "\\k<n>~backreference", "*a~nothing to repeat"})
    void unsupportedRegexFeaturesAreRefusedByName(String regex, String named) {
        ConstraintException e = assertThrows(ConstraintException.class, () -> Fixtures.llama2Constraints().regex(regex));
        assertTrue(e.getMessage().contains(named), e.getMessage());
    }

    @Test
    void anchorsAtTheEndsAreAccepted() {
        CompiledConstraint c = Fixtures.llama2Constraints().regex("^[0-9]{2}$");
        assertTrue(Fixtures.accepts(c, "42"));
        assertEquals(false, Fixtures.accepts(c, "4"));
    }
}
