package dev.kvasir.models.sampling.constraint;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Integer and decimal ranges against BigDecimal comparisons: for random bounds (inclusive,
 * exclusive, open) and numbers around them, the automaton accepts exactly the well-formed
 * spellings whose value lies in the range (zero without a minus sign).
 */
class NumberRangesTest {

    private static final java.util.regex.Pattern INTEGER = java.util.regex.Pattern.compile("-?(0|[1-9][0-9]*)");
    private static final java.util.regex.Pattern DECIMAL = java.util.regex.Pattern.compile("-?(0|[1-9][0-9]*)(\\.[0-9]{1,6})?");

    @Test
    void integerRangesAcceptExactlyTheirValues() {
        SplittableRandom r = new SplittableRandom(3);
        List<String> failures = new ArrayList<>();
        for (int round = 0; round < 60; round++) {
            BigInteger lo = r.nextInt(4) == 0 ? null : BigInteger.valueOf(r.nextLong(-3000, 3000));
            BigInteger hi = r.nextInt(4) == 0 ? null : (lo == null ? BigInteger.valueOf(r.nextLong(-3000, 3000)) : lo.add(BigInteger.valueOf(r.nextLong(0, 5000))));
            CompiledConstraint c = compile(NumberRanges.integers(lo, hi));
            for (String s : candidates(r, lo == null ? 0 : lo.longValue(), hi == null ? 0 : hi.longValue(), false)) {
                boolean expected = INTEGER.matcher(s).matches() && !s.equals("-0") && (lo == null || new BigInteger(s).compareTo(lo) >= 0)
                        && (hi == null || new BigInteger(s).compareTo(hi) <= 0);
                if (Fixtures.accepts(c, s) != expected) failures.add("[" + lo + ", " + hi + "] " + s + " expected " + expected);
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    @Test
    void decimalRangesAcceptExactlyTheirValues() {
        SplittableRandom r = new SplittableRandom(4);
        List<String> failures = new ArrayList<>();
        for (int round = 0; round < 60; round++) {
            BigDecimal lo = r.nextInt(4) == 0 ? null : BigDecimal.valueOf(r.nextLong(-300000, 300000), r.nextInt(0, 4));
            BigDecimal hi = r.nextInt(4) == 0 ? null
                    : (lo == null ? BigDecimal.ZERO : lo).add(BigDecimal.valueOf(r.nextLong(1, 500000), r.nextInt(0, 4)));
            boolean loEx = r.nextBoolean(), hiEx = r.nextBoolean();
            CompiledConstraint c = compile(NumberRanges.decimals(lo, loEx, hi, hiEx, 6));
            for (String s : candidates(r, lo == null ? 0 : lo.longValue(), hi == null ? 0 : hi.longValue(), true)) {
                // Negative zeros ("-0", "-0.0") are left out on purpose: zero is spelled without a sign.
                boolean expected = DECIMAL.matcher(s).matches() && !s.matches("-0(\\.0+)?");
                if (expected) {
                    BigDecimal v = new BigDecimal(s);
                    if (lo != null) expected &= loEx ? v.compareTo(lo) > 0 : v.compareTo(lo) >= 0;
                    if (hi != null) expected &= hiEx ? v.compareTo(hi) < 0 : v.compareTo(hi) <= 0;
                }
                if (Fixtures.accepts(c, s) != expected) {
                    failures.add((loEx ? "(" : "[") + lo + ", " + hi + (hiEx ? ")" : "]") + " " + s + " expected " + expected);
                }
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));
    }

    /** Spellings near and between the bounds, exactly on them, malformed ones and negative zeros. */
    private static List<String> candidates(SplittableRandom r, long lo, long hi, boolean decimals) {
        List<String> out = new ArrayList<>(List.of("0", "-0", "00", "01", "-", "", "1.", ".5", "0.0", "-0.0", "1e3"));
        for (long base : new long[] {lo, hi, 0}) {
            for (long d = -3; d <= 3; d++) {
                out.add(Long.toString(base + d));
                if (decimals) {
                    out.add((base + d) + "." + r.nextInt(10));
                    out.add((base + d) + ".0" + r.nextInt(10));
                    out.add((base + d) + "." + r.nextInt(1000) + "0");
                    out.add((base + d) + ".000");
                }
            }
        }
        for (int i = 0; i < 40; i++) {
            long v = r.nextLong(Math.min(lo, hi) - 100, Math.max(lo, hi) + 100);
            out.add(decimals && r.nextBoolean() ? v + "." + r.nextInt(100000) : Long.toString(v));
        }
        return out;
    }

    private static CompiledConstraint compile(Expr e) {
        return new CompiledConstraint(AutomatonCompiler.compile(new GrammarRules(Map.of("root", e), "root", Set.of())),
                Fixtures.llama2Constraints().vocabulary(), "number range");
    }
}
