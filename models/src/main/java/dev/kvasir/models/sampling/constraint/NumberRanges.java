package dev.kvasir.models.sampling.constraint;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;

/**
 * Expressions for the JSON spellings of numbers in a range: integers with optional bounds, and
 * decimals (no exponent, a bounded number of fraction digits) with inclusive or exclusive bounds.
 * Built digit by digit: while a prefix equals a bound's prefix the next digit is limited by the
 * bound's digit; once it is below (or above) the rest is free. Integer parts have no leading zeros.
 */
final class NumberRanges {

    private static final Expr DIGIT = Expr.range('0', '9');
    private static final Expr NONZERO = Expr.range('1', '9');

    private NumberRanges() {}

    /** Integers n with {@code lo <= n <= hi}; null: unbounded on that side. */
    static Expr integers(BigInteger lo, BigInteger hi) {
        if (lo != null && hi != null && lo.compareTo(hi) > 0) throw new ConstraintException("no integer lies in [" + lo + ", " + hi + "]");
        List<Expr> options = new ArrayList<>();
        if (lo == null || lo.signum() < 0) {
            BigInteger magLo = hi != null && hi.signum() < 0 ? hi.negate() : BigInteger.ONE;
            BigInteger magHi = lo == null ? null : lo.negate();
            options.add(Expr.seq(Expr.literal("-"), naturals(magLo, magHi)));
        }
        if (hi == null || hi.signum() >= 0) options.add(naturals(lo == null || lo.signum() < 0 ? BigInteger.ZERO : lo, hi));
        return Expr.alt(options);
    }

    /** Non-negative integers in [lo, hi] (hi null: unbounded), spelled without leading zeros. */
    static Expr naturals(BigInteger lo, BigInteger hi) {
        String a = lo.toString();
        List<Expr> options = new ArrayList<>();
        int maxLen = hi == null ? a.length() : hi.toString().length();
        for (int n = a.length(); n <= maxLen; n++) {
            String from = n == a.length() ? a : "1" + "0".repeat(n - 1);
            String to = hi != null && n == maxLen ? hi.toString() : "9".repeat(n);
            if (from.length() == to.length() && from.compareTo(to) <= 0) options.add(sameLength(from, to, 0, true, true));
        }
        // Unbounded: every spelling longer than lo's is larger.
        if (hi == null) options.add(Expr.seq(NONZERO, new Expr.Repeat(DIGIT, a.length(), -1)));
        return Expr.alt(options);
    }

    /** Digit strings of lo's length between lo and hi, from position i, with the bounds still tight or not. */
    private static Expr sameLength(String lo, String hi, int i, boolean tightLo, boolean tightHi) {
        int n = lo.length();
        if (i == n) return Expr.empty();
        if (!tightLo && !tightHi) return new Expr.Repeat(DIGIT, n - i, n - i);
        int l = tightLo ? lo.charAt(i) - '0' : 0, h = tightHi ? hi.charAt(i) - '0' : 9;
        if (l == h) return Expr.seq(digit(l), sameLength(lo, hi, i + 1, tightLo, tightHi));
        List<Expr> options = new ArrayList<>();
        int freeLo = l, freeHi = h;
        if (tightLo) {
            options.add(Expr.seq(digit(l), sameLength(lo, hi, i + 1, true, false)));
            freeLo = l + 1;
        }
        if (tightHi) freeHi = h - 1;
        if (freeLo <= freeHi) options.add(Expr.seq(Expr.range('0' + freeLo, '0' + freeHi), new Expr.Repeat(DIGIT, n - i - 1, n - i - 1)));
        if (tightHi) options.add(Expr.seq(digit(h), sameLength(lo, hi, i + 1, false, true)));
        return Expr.alt(options);
    }

    /**
     * Decimals x (an integer part, optionally a point and 1..{@code fractionDigits} digits) with
     * {@code lo <(=) x <(=) hi}; null bounds are open.
     */
    static Expr decimals(BigDecimal lo, boolean loExclusive, BigDecimal hi, boolean hiExclusive, int fractionDigits) {
        if (lo != null && hi != null) {
            int cmp = lo.compareTo(hi);
            if (cmp > 0 || (cmp == 0 && (loExclusive || hiExclusive))) {
                throw new ConstraintException("no number lies between the bounds " + lo.toPlainString() + " and " + hi.toPlainString());
            }
        }
        List<Expr> options = new ArrayList<>();
        if (lo == null || lo.signum() < 0) {
            // x = -m with m > 0: the non-negative side spells zero.
            boolean hiNegative = hi != null && hi.signum() < 0;
            BigDecimal mLo = hiNegative ? hi.negate() : BigDecimal.ZERO;
            boolean mLoExclusive = !hiNegative || hiExclusive;
            options.add(Expr.seq(Expr.literal("-"), nonNegative(mLo, mLoExclusive, lo == null ? null : lo.negate(), loExclusive, fractionDigits)));
        }
        if (hi == null || hi.signum() > 0 || (hi.signum() == 0 && !hiExclusive)) {
            boolean loNegative = lo == null || lo.signum() < 0;
            options.add(nonNegative(loNegative ? BigDecimal.ZERO : lo, !loNegative && loExclusive, hi, hiExclusive, fractionDigits));
        }
        return Expr.alt(options);
    }

    private static Expr nonNegative(BigDecimal lo, boolean loEx, BigDecimal hi, boolean hiEx, int f) {
        BigInteger a = lo.setScale(0, RoundingMode.FLOOR).toBigIntegerExact();
        String fa = fraction(lo);
        if (hi == null) {
            return Expr.alt(
                    Expr.seq(Expr.literal(a.toString()), fraction(fa, loEx, null, false, f)),
                    Expr.seq(naturals(a.add(BigInteger.ONE), null), anyFraction(f)));
        }
        BigInteger b = hi.setScale(0, RoundingMode.FLOOR).toBigIntegerExact();
        String fb = fraction(hi);
        if (a.equals(b)) return Expr.seq(Expr.literal(a.toString()), fraction(fa, loEx, fb, hiEx, f));
        List<Expr> options = new ArrayList<>();
        options.add(Expr.seq(Expr.literal(a.toString()), fraction(fa, loEx, null, false, f)));
        BigInteger middleHi = b.subtract(BigInteger.ONE);
        if (a.add(BigInteger.ONE).compareTo(middleHi) <= 0) options.add(Expr.seq(naturals(a.add(BigInteger.ONE), middleHi), anyFraction(f)));
        options.add(Expr.seq(Expr.literal(b.toString()), fraction(null, false, fb, hiEx, f)));
        return Expr.alt(options);
    }

    /** The digits after the point of a non-negative value, trailing zeros dropped ("" for an integer). */
    private static String fraction(BigDecimal v) {
        BigDecimal frac = v.subtract(v.setScale(0, RoundingMode.FLOOR)).stripTrailingZeros();
        if (frac.signum() == 0) return "";
        String s = frac.toPlainString();
        return s.substring(s.indexOf('.') + 1);
    }

    private static Expr anyFraction(int f) {
        return Expr.optional(Expr.seq(Expr.literal("."), new Expr.Repeat(DIGIT, 1, f)));
    }

    /**
     * The optional fraction part with value v (0 when absent) such that {@code lo <(=) v <(=) hi},
     * where lo and hi are digit strings after the point (null: no bound on that side).
     */
    private static Expr fraction(String lo, boolean loEx, String hi, boolean hiEx, int f) {
        List<Expr> options = new ArrayList<>();
        if (endAllowed(lo, loEx, hi, hiEx, 0)) options.add(Expr.empty());
        options.add(Expr.seq(Expr.literal("."), fractionDigits(lo, loEx, hi, hiEx, f, 0)));
        return Expr.alt(options);
    }

    /** Digits from position i (at least one when i == 0), lo/hi null once no longer tight. */
    private static Expr fractionDigits(String lo, boolean loEx, String hi, boolean hiEx, int f, int i) {
        if (lo == null && hi == null) return new Expr.Repeat(DIGIT, i == 0 ? 1 : 0, f - i);
        List<Expr> options = new ArrayList<>();
        if (i > 0 && endAllowed(lo, loEx, hi, hiEx, i)) options.add(Expr.empty());
        if (i < f) {
            int l = lo != null ? digitAt(lo, i) : 0, h = hi != null ? digitAt(hi, i) : 9;
            if (lo != null && hi != null && l == h) {
                options.add(Expr.seq(digit(l), fractionDigits(lo, loEx, hi, hiEx, f, i + 1)));
            } else if (l <= h) {
                int freeLo = l, freeHi = h;
                if (lo != null) {
                    options.add(Expr.seq(digit(l), fractionDigits(lo, loEx, null, false, f, i + 1)));
                    freeLo = l + 1;
                }
                if (hi != null) freeHi = h - 1;
                if (freeLo <= freeHi) {
                    options.add(Expr.seq(Expr.range('0' + freeLo, '0' + freeHi), new Expr.Repeat(DIGIT, 0, f - i - 1)));
                }
                if (hi != null) options.add(Expr.seq(digit(h), fractionDigits(null, false, hi, hiEx, f, i + 1)));
            }
        }
        return Expr.alt(options);
    }

    /** Whether the fraction may end after i digits while still equal to the tight bounds' first i digits. */
    private static boolean endAllowed(String lo, boolean loEx, String hi, boolean hiEx, int i) {
        // Ending pads with zeros: against lo that is equal (if lo's rest is zero) or smaller; against hi equal or smaller.
        if (lo != null) {
            boolean loRestZero = restZero(lo, i);
            if (!loRestZero || loEx) return false;
        }
        if (hi != null) {
            boolean hiRestZero = restZero(hi, i);
            if (hiRestZero && hiEx) return false;
        }
        return true;
    }

    private static boolean restZero(String digits, int i) {
        for (int k = i; k < digits.length(); k++) if (digits.charAt(k) != '0') return false;
        return true;
    }

    private static int digitAt(String digits, int i) {
        return i < digits.length() ? digits.charAt(i) - '0' : 0;
    }

    private static Expr digit(int d) {
        return Expr.range('0' + d, '0' + d);
    }
}
