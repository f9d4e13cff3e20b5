package dev.kvasir.memory.facts;

import java.util.Locale;
import java.util.Map;

/**
 * The keys the rules write and the sentence each is stored as. A key outside the table (one the
 * model chose, or a "my X is Y" the user asked to remember) reads "The user's X is Y".
 */
public final class FactKeys {
    public static final String NAME = "user.name";
    public static final String AGE = "user.age";
    public static final String PRONOUNS = "user.pronouns";
    public static final String HOME_CITY = "user.home_city";
    public static final String HOMETOWN = "user.hometown";
    public static final String JOB = "user.job";
    public static final String EMPLOYER = "user.employer";
    public static final String BIRTHDAY = "user.birthday";
    public static final String NEXT_TRIP = "user.next_trip";

    private static final Map<String, String> TEMPLATES = Map.of(
            NAME, "The user's name is %s",
            AGE, "The user is %s years old",
            PRONOUNS, "The user's pronouns are %s",
            HOME_CITY, "The user lives in %s",
            HOMETOWN, "The user is from %s",
            JOB, "The user works as %s",
            EMPLOYER, "The user works at %s",
            BIRTHDAY, "The user's birthday is %s",
            NEXT_TRIP, "The user is going to %s");

    private FactKeys() {}

    /** The sentence a fact is stored and injected as. */
    public static String statement(String key, String value) {
        String template = TEMPLATES.get(key);
        if (template != null) return template.formatted(value);
        if (key.startsWith("user.preference.")) return "The user prefers " + value;
        if (key.startsWith("user.likes.")) return "The user " + value;
        if (key.startsWith("user.favorite_")) return "The user's favorite " + words(key.substring("user.favorite_".length())) + " is " + value;
        if (key.startsWith("user.schedule.")) return "The user's " + words(key.substring("user.schedule.".length())) + " is " + value;
        if (key.startsWith("user.plan.")) return "The user plans to " + value;
        if (key.startsWith("user.") && key.endsWith("_name")) {
            return "The user's " + words(key.substring(5, key.length() - 5)) + " is called " + value;
        }
        String attribute = key.substring(key.indexOf('.') + 1);
        return "The user's " + words(attribute) + " is " + value;
    }

    /** A key segment from free words: lower case, letters and digits joined by '_', at most 40 characters. */
    public static String slug(String words) {
        String s = words.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "_").replaceAll("^_+|_+$", "");
        if (s.length() > 40) s = s.substring(0, 40).replaceAll("_+$", "");
        return s.isEmpty() ? null : s;
    }

    private static String words(String segment) {
        return segment.replace('_', ' ').replace('.', ' ');
    }
}
