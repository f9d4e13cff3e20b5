package dev.kvasir.server.cli;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

import java.math.BigDecimal;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Sizes on the command line: a number and a unit, as Kubernetes writes them. {@code Ki Mi Gi Ti}
 * (with or without a trailing {@code B}: {@code 512MiB}) are powers of 1024; {@code K M G T}
 * ({@code 2GB}, {@code 2G}) are powers of 1000; {@code B} is bytes. Units ignore case; fractions
 * are allowed with a unit ({@code 1.5GiB}, rounded down to whole bytes). What a plain number means
 * is the flag's: bytes for ours, GiB for vLLM's {@code --swap-space}. Anything else, a negative
 * size or one past {@code Long.MAX_VALUE} bytes is refused; picocli names the flag in the message.
 */
public final class ByteSize {

    private static final Pattern SIZE = Pattern.compile("\\s*(\\d+(?:\\.\\d*)?|\\.\\d+)\\s*([a-z]*)\\s*");
    private static final String EXAMPLES = "e.g. 512MiB, 2GiB, 1.5GiB, 2GB or a plain number of ";

    private ByteSize() {}

    /**
     * Bytes in {@code text}; a plain number counts {@code plainUnit} bytes ({@code 1} for bytes).
     *
     * @throws IllegalArgumentException saying what was wrong and what is accepted
     */
    public static long parse(String text, long plainUnit) {
        String plainName = plainUnit == 1 ? "bytes" : plainUnit == 1L << 30 ? "GiB" : plainUnit + "-byte units";
        Matcher m = SIZE.matcher(text.toLowerCase(Locale.ROOT));
        if (!m.matches()) throw new IllegalArgumentException("'" + text + "' is not a size (" + EXAMPLES + plainName + ")");
        String unitText = m.group(2);
        long unit = unitText.isEmpty() ? plainUnit : unit(unitText);
        if (unit == 0) {
            throw new IllegalArgumentException("'" + text + "' has an unknown unit '" + m.group(2) + "' (" + EXAMPLES + plainName + ")");
        }
        BigDecimal bytes = new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit));
        if (unit == 1 && bytes.stripTrailingZeros().scale() > 0) {
            throw new IllegalArgumentException("'" + text + "' is a fraction of a byte");
        }
        if (bytes.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            throw new IllegalArgumentException("'" + text + "' is larger than any memory");
        }
        return bytes.longValue();
    }

    /** Bytes per unit for a lower-cased unit name, 0 for none we know. */
    private static long unit(String u) {
        String base = u.endsWith("b") ? u.substring(0, u.length() - 1) : u;
        return switch (base) {
            case "" -> 1;
            case "k" -> 1_000L;
            case "m" -> 1_000_000L;
            case "g" -> 1_000_000_000L;
            case "t" -> 1_000_000_000_000L;
            case "ki" -> 1L << 10;
            case "mi" -> 1L << 20;
            case "gi" -> 1L << 30;
            case "ti" -> 1L << 40;
            default -> 0;
        };
    }

    /** Picocli converter: a plain number is bytes. */
    public static final class Bytes implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return parse(value, 1);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }

    /** Picocli converter: a plain number is GiB, as vLLM reads {@code --swap-space 4}. */
    public static final class GibibytesByDefault implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            try {
                return parse(value, 1L << 30);
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException(e.getMessage());
            }
        }
    }
}
