package dev.kvasir.models.sampling.constraint;

/**
 * JSON Schema string formats as regular expressions of the values a validator accepts: real
 * calendar dates (February has 28 days here, which every year allows), times without leap seconds,
 * RFC 3339 date-times with an offset, RFC 4122-shaped UUIDs, dotted-quad IPv4 without leading zeros.
 */
final class Formats {

    private static final String DATE = "[1-9][0-9]{3}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
            + "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))";
    private static final String TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{1,6})?"
            + "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])";
    private static final String OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";

    private Formats() {}

    static Expr of(String format, String path) {
        String regex = switch (format) {
            case "date" -> DATE;
            case "time" -> TIME;
            case "date-time" -> DATE + "T" + TIME;
            case "uuid" -> "[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";
            case "ipv4" -> OCTET + "\\." + OCTET + "\\." + OCTET + "\\." + OCTET;
            default -> throw new ConstraintException("unsupported string format '" + format + "' at " + path
                    + " (supported: date, time, date-time, uuid, ipv4)");
        };
        return RegexParser.parse(regex).expr();
    }
}
