package dev.kvasir.memory.facts;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Facts from first-person statements, by a table of patterns ({@code --memory-extractor rules}).
 * Each sentence is split into clauses; a clause is read in this order: discourse markers dropped
 * ("oh,", "by the way"); "remember that ..." (the rest is read again and kept as core, or as a note);
 * correction markers ("actually", "no, I meant", "not X but Y") set the correction flag; questions
 * are skipped; explicit dislikes and "I'd rather" are read; then any clause with a negation, a hedge
 * or a hypothetical ("not", "never", "maybe", "if", "would", "used to") is skipped; then the
 * positive patterns (identity, places, work, relations, preferences, plans and dates). Patterns are
 * anchored at the clause start, so a fact about someone else ("my friend lives in Rome") is not
 * the user's. What is not sure is left out: a missing fact costs less than a wrong one.
 */
public final class RuleFactExtractor implements FactExtractor {
    private static final int CI = Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE;
    private static final int MAX_TEXT = 8192;
    private static final int MAX_VALUE_WORDS = 6;
    private static final double CONFIDENCE = 0.9;

    private static final Pattern SENTENCES = Pattern.compile("(?<=[.!?])\\s+|[\\n;]+");
    private static final Pattern CLAUSES = Pattern.compile(
            "\\s*,?\\s+(?:and|but|plus|also)\\s+(?=(?:i|i'm|i've|i'd|my|we|we're|work|live|moved|prefer|love|like|hate|enjoy|just)\\b)"
                    + "|\\s*,\\s*(?=(?:i|i'm|i've|i'd|my|we|we're)\\b)", CI);
    private static final Pattern STARTS_WITH_SUBJECT = Pattern.compile("^(?:i|i'm|i've|i'd|my|we|we're|we've|please|remember|call)\\b", CI);
    private static final Pattern DISCOURSE = Pattern.compile("^(?:(?:oh|well|so|also|btw|by the way|anyway|anyways|and|plus|hey|hi|hello"
            + "|ok|okay|yes|yeah|yep|right|fyi|just so you know|for the record|just to let you know|as you know|honestly"
            + "|fun fact|guess what|funny enough|oh and)(?:[,:!.\\s-]+|$))+", CI);
    /** Interjections ("no", "sorry") count as a correction only with punctuation after them: "No, Porto", never "No worries". */
    private static final Pattern CORRECTION = Pattern.compile("^(?:(?:actually|in fact|correction|i misspoke|i was wrong|my bad"
            + "|my mistake|scratch that|let me correct (?:that|myself)|to correct myself)(?:[,:!.\\s-]+|$)"
            + "|(?:sorry|oops|whoops|wait|no|nope|nah)(?:\\s*[,:!.-]+\\s*|$))+", CI);
    private static final Pattern MEANT = Pattern.compile("^(?:(?:sorry |no |oops )?i meant(?: to say)?|i mean|what i meant (?:was|is)"
            + "|that should be|make that"
            + "|it's actually|it is actually)(?:[,:\\s]+|$)", CI);
    private static final Pattern NOT_BUT = Pattern.compile("\\bnot\\s+(?:(?:in|at|for|to|a|an|the)\\s+)?[^,]+?,?\\s+but\\s+(?:rather\\s+|actually\\s+)?", CI);
    private static final Pattern QUESTION = Pattern.compile("^(?:do|does|did|is|are|am|was|were|what|what's|where|where's|who|who's|whose"
            + "|when|why|how|which|can|could|would|will|should|shall|have|has|isn't|aren't|don't|didn't|won't)\\b", CI);
    private static final Pattern HEDGE = Pattern.compile("(?:\\b(?:not|never|no longer|cannot|nobody|nothing|if|unless|maybe|perhaps"
            + "|probably|might|wish|would|could|should|wonder|wondering|thinking|considering|hope|hoping|used to|pretend"
            + "|imagine|suppose|supposedly|someday|one day|dream|dreamt|dreamed|whether|either)\\b|n't\\b)", CI);
    private static final Pattern REMEMBER = Pattern.compile("^(?:please |pls |can you |could you |do |and )?(?:remember|note|keep in mind"
            + "|make a note|take note|don't forget|do not forget|never forget)(?: that| this:| this| of this:|:)?\\s+(.+)$", CI);
    private static final Pattern GENERIC_MY = Pattern.compile("^my ((?:[\\w-]+ ){0,3}?[\\w-]+) (?:is|are) (.+)$", CI);

    /** A word that ends a value: what follows it describes the value or the time, not the value. */
    private static final Pattern CUT = Pattern.compile("\\s*(?:[,;:(]| because | since | so | which | who | where | when | but "
            + "| with | after | before | until | as | for | from | to | over | rather than | than | in order | while | though "
            + "| although | if | instead of | and i | and my | at | in the | in (?:every|all|most|my|our) | on (?:my|all|every) "
            + "| everywhere| and (?:she|he|they|it|we|her|his|their) )", CI);
    private static final Pattern CUT_DATE = Pattern.compile("\\s*(?:[,;(]| because | since | so | which | but | and i | and my )", CI);
    private static final Pattern TRAILING = Pattern.compile("(?:\\s+(?:now|these days|nowadays|currently|at the moment|right now|for now"
            + "|anymore|lately|today|again|too|as well|actually|already|by the way|btw|though|instead|full[- ]time"
            + "|part[- ]time|finally|then|okay|ok|recently|a while ago|last (?:year|month|week|summer|winter|spring|fall|autumn)"
            + "|this (?:year|month|week)|(?:a few|two|three|four|five|\\d+) (?:years|months|weeks|days) ago|in \\d{4}))+$", CI);
    private static final Set<String> NOT_VALUES = Set.of("it", "that", "this", "them", "there", "here", "you", "him", "her", "us",
            "something", "anything", "nothing", "everything", "someone", "anyone", "everyone", "home", "bed", "sleep",
            "one", "some", "stuff", "things", "so", "too", "a lot", "lots");
    private static final Pattern INDEFINITE = Pattern.compile("^(?:a|an|my|our|his|her|their|this|that|some|any)\\b", CI);

    private static final Map<String, String> RELATIONS = Map.ofEntries(
            Map.entry("wife", "wife"), Map.entry("husband", "husband"), Map.entry("partner", "partner"),
            Map.entry("girlfriend", "girlfriend"), Map.entry("boyfriend", "boyfriend"), Map.entry("fiance", "fiance"),
            Map.entry("fiancee", "fiance"), Map.entry("fiancé", "fiance"), Map.entry("fiancée", "fiance"),
            Map.entry("sister", "sister"), Map.entry("brother", "brother"), Map.entry("mother", "mother"),
            Map.entry("mom", "mother"), Map.entry("mum", "mother"), Map.entry("father", "father"), Map.entry("dad", "father"),
            Map.entry("son", "son"), Map.entry("daughter", "daughter"), Map.entry("boss", "boss"), Map.entry("manager", "manager"),
            Map.entry("best friend", "best_friend"), Map.entry("roommate", "roommate"), Map.entry("neighbor", "neighbor"),
            Map.entry("neighbour", "neighbor"), Map.entry("cousin", "cousin"), Map.entry("grandmother", "grandmother"),
            Map.entry("grandma", "grandmother"), Map.entry("grandfather", "grandfather"), Map.entry("grandpa", "grandfather"),
            Map.entry("dog", "dog"), Map.entry("puppy", "dog"), Map.entry("cat", "cat"), Map.entry("kitten", "cat"),
            Map.entry("parrot", "parrot"), Map.entry("hamster", "hamster"), Map.entry("rabbit", "rabbit"),
            Map.entry("bunny", "rabbit"), Map.entry("horse", "horse"), Map.entry("turtle", "turtle"),
            Map.entry("retriever", "dog"), Map.entry("terrier", "dog"), Map.entry("poodle", "dog"), Map.entry("labrador", "dog"),
            Map.entry("beagle", "dog"), Map.entry("spaniel", "dog"), Map.entry("collie", "dog"));
    private static final String RELATION_WORDS = alternation(RELATIONS.keySet());

    private static final Map<String, String> PREFERENCE_CATEGORIES = categories(Map.of(
            "theme", "mode theme",
            "drink", "tea coffee espresso latte cappuccino juice water wine beer soda milk cocoa chai matcha",
            "seat", "seat seats",
            "transport", "train trains bus car bike bicycle plane flight flights flying driving walking cycling",
            "contact", "email emails phone call calls text texts sms slack",
            "units", "metric imperial celsius fahrenheit",
            "time_of_day", "morning mornings evening evenings afternoon afternoons night nights",
            "food", "pizza pasta sushi salad salads burger burgers curry ramen tacos noodles rice soup steak",
            "music", "jazz rock pop classical hip-hop rap country metal blues techno folk"));

    private static final Set<String> JOBS = Set.of(("engineer developer designer analyst manager teacher nurse doctor lawyer chef"
            + " pilot carpenter plumber electrician architect librarian accountant journalist writer student scientist researcher"
            + " pharmacist dentist veterinarian vet firefighter photographer musician artist baker farmer mechanic consultant"
            + " programmer translator paramedic surgeon professor lecturer barista waiter waitress cashier economist historian"
            + " biologist chemist physicist physician therapist psychologist editor producer officer clerk secretary"
            + " receptionist tailor welder painter florist gardener janitor lifeguard coach trainer tutor midwife")
            .split(" "));
    private static final String SCHEDULE_WORDS = "appointment|meeting|exam|interview|flight|class|lesson|checkup|check-up|party"
            + "|wedding|deadline|surgery|call|game|concert|recital|match|presentation|shift|review";
    private static final Set<String> NOT_NAMES = Set.of("fine", "good", "great", "back", "here", "sorry", "ready", "done", "happy",
            "tired", "okay", "ok", "hungry", "busy", "home", "sure", "glad", "new", "late", "free", "well", "cold", "hot", "sick");

    private final List<Rule> beforeHedges;
    private final List<Rule> rules;

    public RuleFactExtractor() {
        String v = "(.+)";
        beforeHedges = List.of(
                rule("^(?:i|i'm|i am) (?:really |just |absolutely |truly |honestly )?(?:hate|dislike|detest|loathe|can't stand"
                        + "|cannot stand|don't like|do not like|don't enjoy|do not enjoy|don't care for|not a fan of|'m not a fan of) " + v,
                        m -> liking(m.group(1), "dislikes")),
                rule("^(?:i'd|i would) (?:much |really |definitely )?rather (?:have |use |drink |eat |take |get |go with |go for |do )?" + v,
                        m -> preference(m.group(1))));
        rules = List.of(
                // identity
                rule("^(?:my name is|my name's|the name's|(?:you can |please )?call me|i'm called|i am called|people call me|i go by) " + v,
                        m -> fact(FactKeys.NAME, person(m.group(1)), true, 0.9)),
                rule("^(?:i'm|i am) (\\d{1,3})(?: years old| years of age| yo)?$", m -> age(m.group(1))),
                rule("^(?:i (?:just )?turned|my age is) (\\d{1,3})\\b.*$", m -> age(m.group(1))),
                rule("^my pronouns are " + v, m -> fact(FactKeys.PRONOUNS, cut(m.group(1)), true, 0.8)),
                rule("^(?:i'm|i am) ((?-i:[A-Z][a-z]+))$", m -> NOT_NAMES.contains(m.group(1).toLowerCase(Locale.ROOT))
                        || JOBS.contains(m.group(1).toLowerCase(Locale.ROOT)) ? null
                        : fact(FactKeys.NAME, m.group(1), true, 0.9).withConfidence(0.75)),
                // places
                rule("^(?:i|we) (?:currently |now |still |actually )?(?:live|am living|'m living|are living|'re living|reside|stay) in " + v,
                        m -> fact(FactKeys.HOME_CITY, place(m.group(1)), true, 0.8)),
                rule("^(?:i|we)(?:'ve| have)? (?:just |recently |finally )*(?:moved|relocated) (?:to|into) " + v,
                        m -> fact(FactKeys.HOME_CITY, place(m.group(1)), true, 0.8)),
                rule("^(?:i'm|i am|we're|we are) (?:now |currently )?(?:based|living) in " + v,
                        m -> fact(FactKeys.HOME_CITY, place(m.group(1)), true, 0.8)),
                rule("^home (?:is|for me is) " + v, m -> fact(FactKeys.HOME_CITY, place(m.group(1)), true, 0.8)),
                rule("^(?:i'm|i am|i come|i'm originally|i am originally|i originally come) from " + v,
                        m -> fact(FactKeys.HOMETOWN, place(m.group(1)), false, 0.7)),
                rule("^i (?:grew up|was born(?: and raised)?) in " + v, m -> fact(FactKeys.HOMETOWN, place(m.group(1)), false, 0.7)),
                // work
                rule("^(?:i|i'm|i am) (?:currently |now )?(?:work|working|employed) as (?:an? )?" + v,
                        m -> fact(FactKeys.JOB, cut(m.group(1)), true, 0.8)),
                rule("^my (?:job|profession|occupation|role|job title) is (?:an? )?" + v, m -> fact(FactKeys.JOB, cut(m.group(1)), true, 0.8)),
                rule("^(?:i'm|i am) an? (.+?) by (?:profession|trade)$", m -> fact(FactKeys.JOB, cut(m.group(1)), true, 0.8)),
                rule("^i (?:now )?have a job as (?:an? )?" + v, m -> fact(FactKeys.JOB, cut(m.group(1)), true, 0.8)),
                rule("^(?:i'm|i am) (?:now )?an? ((?:[\\w-]+ ){0,2}[\\w-]+)$", m -> job(m.group(1))),
                rule("^(?:i|i'm|i am|we) (?:currently |now )?(?:work|working|employed) (?:at|for|by) " + v,
                        m -> fact(FactKeys.EMPLOYER, place(m.group(1)), true, 0.8)),
                rule("^i (?:just |recently )?(?:joined|started at|started working at|got a job at) " + v,
                        m -> fact(FactKeys.EMPLOYER, place(m.group(1)), true, 0.8)),
                rule("^my (?:employer|company) is " + v, m -> fact(FactKeys.EMPLOYER, place(m.group(1)), true, 0.8)),
                // relations and pets
                rule("^my (" + RELATION_WORDS + ")(?:'s name is|'s name's| is called| is named| goes by(?: the name)?|'s called) " + v,
                        m -> relation(m.group(1), m.group(2))),
                rule("^(?:i have|i've got|we have|we've got) an? (?:[\\w-]+ ){0,2}?(" + RELATION_WORDS + ") (?:named|called) " + v,
                        m -> relation(m.group(1), m.group(2))),
                rule("^((?-i:[A-Z][\\w'-]+(?: [A-Z][\\w'-]+){0,2})) is my (" + RELATION_WORDS + ")$", m -> relation(m.group(2), m.group(1))),
                // preferences
                rule("^(?:i|we) (?:really |much |definitely |generally |usually |still |now |also |actually )?prefer " + v,
                        m -> preference(m.group(1))),
                rule("^my preference is (?:for )?" + v, m -> preference(m.group(1))),
                rule("^my (?:absolute |all-time |current )?favou?rite ((?:[\\w-]+ ){0,2}?[\\w-]+) is " + v,
                        m -> favorite(m.group(1), m.group(2))),
                rule("^(.+?) is my (?:absolute |all-time )?favou?rite ((?:[\\w-]+ ){0,2}?[\\w-]+)$", m -> favorite(m.group(2), m.group(1))),
                rule("^i (?:really |absolutely |just |truly |also )?(?:like|love|enjoy|adore) " + v, m -> liking(m.group(1), "likes")),
                // plans and dates
                rule("^my birthday(?: is|'s) (?:on )?" + v, m -> fact(FactKeys.BIRTHDAY, date(m.group(1)), true, 0.8)),
                rule("^i was born on " + v, m -> fact(FactKeys.BIRTHDAY, date(m.group(1)), true, 0.8)),
                rule("^(?:i'm|i am|we're|we are) (?:going|flying|traveling|travelling|driving|heading|off) to ((?:[\\w'-]+ ){0,2}?[\\w'-]+)"
                        + " ((?:on|in|next|this|tomorrow|tonight)\\b.*)$", m -> trip(m.group(1), m.group(2))),
                rule("^(?:i'll|i will|we'll|we will) be in ((?:[\\w'-]+ ){0,2}?[\\w'-]+) ((?:on|in|next|this|tomorrow|tonight)\\b.*)$",
                        m -> trip(m.group(1), m.group(2))),
                rule("^(?:i|we) (?:plan|am planning|'m planning|are planning|intend|am intending) to " + v, m -> plan(m.group(1))),
                rule("^(?:i have|i've got|i got) (?:an? |my |the )?((?:[\\w-]+ ){0,2}(?:" + SCHEDULE_WORDS + "))"
                        + " ((?:on|at|next|this|tomorrow|today|in)\\b.*)$", m -> schedule(m.group(1), m.group(2))),
                rule("^my ((?:[\\w-]+ ){0,2}(?:" + SCHEDULE_WORDS + ")) (?:is|was moved to|got moved to|moved to) (?:now )?"
                        + "((?:on|at|next|this|tomorrow|today|in)\\b.*)$", m -> schedule(m.group(1), m.group(2))),
                // attributes people list
                rule("^my (email|email address|phone number|phone|address|home address|blood type|shoe size|locker code|zip code"
                        + "|postcode|postal code|student id|employee id|license plate|username|handle|website|nickname|middle name"
                        + "|last name|surname) is " + v, m -> attribute(m.group(1), m.group(2))));
    }

    @Override
    public List<Fact> extract(String message, FactContext context) {
        if (message == null || message.isBlank()) return List.of();
        String text = normalize(message.length() > MAX_TEXT ? message.substring(0, MAX_TEXT) : message);
        List<Fact> out = new ArrayList<>();
        Set<String> keys = new HashSet<>();
        String lastKey = context == null ? null : context.lastFactKey();
        for (String sentence : SENTENCES.split(text)) {
            String s = sentence.strip();
            if (s.isEmpty() || s.endsWith("?")) continue;
            s = s.replaceAll("[.!…]+$", "").strip();
            boolean correction = false;
            for (String raw : CLAUSES.split(s)) {
                Clause c = clause(raw, correction);
                correction = c.correction && c.text.isEmpty(); // "Actually, I ..." split at the comma: the flag carries on
                if (c.text.isEmpty()) continue;
                Fact f = read(c, lastKey);
                if (f == null) continue;
                if (f.key() != null && !keys.add(f.key())) out.removeIf(o -> f.key().equals(o.key())); // the later statement stands
                out.add(f);
                if (f.key() != null) lastKey = f.key();
            }
        }
        return out;
    }

    /** A clause with its markers taken off. */
    private record Clause(String text, boolean correction, boolean remembered) {}

    private static Clause clause(String raw, boolean correction) {
        String t = raw.strip().replaceAll("[.!,]+$", "").strip();
        boolean remembered = false;
        for (int pass = 0; pass < 3; pass++) {
            String before = t;
            t = strip(DISCOURSE, t);
            Matcher r = REMEMBER.matcher(t);
            if (r.matches()) {
                remembered = true;
                t = r.group(1).strip();
            }
            Matcher c = CORRECTION.matcher(t);
            if (c.lookingAt() && c.end() > 0) {
                correction = true;
                t = t.substring(c.end()).strip();
            }
            Matcher meant = MEANT.matcher(t);
            if (meant.lookingAt()) {
                correction = true;
                t = t.substring(meant.end()).strip();
            }
            if (t.equals(before)) break;
        }
        Matcher notBut = NOT_BUT.matcher(t);
        if (notBut.find()) {
            correction = true;
            t = (t.substring(0, notBut.start()) + t.substring(notBut.end())).strip();
        }
        if (!t.isEmpty() && !STARTS_WITH_SUBJECT.matcher(t).lookingAt() && startsWithVerb(t)) t = "I " + t;
        return new Clause(t, correction, remembered);
    }

    private Fact read(Clause c, String lastKey) {
        if (QUESTION.matcher(c.text).lookingAt()) return null;
        Fact f = match(beforeHedges, c.text);
        if (f == null && !HEDGE.matcher(c.text).find()) f = match(rules, c.text);
        if (f == null && c.remembered) f = remembered(c.text);
        if (f == null && c.correction && lastKey != null && c.text.split("\\s+").length <= 4 && !HEDGE.matcher(c.text).find()) {
            String value = cut(c.text);
            if (value != null) f = fact(lastKey, value, false, 0.7);
        }
        if (f == null) return null;
        if (c.remembered) f = f.remembered();
        return c.correction ? f.asCorrection() : f;
    }

    /** "remember that my locker code is 4411": an attribute; anything else the user asked to keep is a note. */
    private static Fact remembered(String text) {
        Matcher m = GENERIC_MY.matcher(text);
        if (m.matches() && !HEDGE.matcher(text).find()) {
            Fact f = attribute(m.group(1), m.group(2));
            if (f != null) return f;
        }
        String note = text.length() > 300 ? text.substring(0, 300) : text;
        return new Fact(null, note, "The user asked to remember: \"" + note + "\"", CONFIDENCE, false, true, 0.9);
    }

    private static Fact match(List<Rule> table, String text) {
        for (Rule r : table) {
            Matcher m = r.pattern.matcher(text);
            if (m.find()) {
                Fact f = r.read.apply(m);
                if (f != null) return f;
            }
        }
        return null;
    }

    private record Rule(Pattern pattern, Function<Matcher, Fact> read) {}

    private static Rule rule(String regex, Function<Matcher, Fact> read) {
        return new Rule(Pattern.compile(regex, CI), read);
    }

    // ---- what a rule builds -----------------------------------------------------------------------

    private static Fact fact(String key, String value, boolean core, double importance) {
        if (value == null) return null;
        return new Fact(key, value, FactKeys.statement(key, value), CONFIDENCE, false, core, importance);
    }

    private static Fact age(String digits) {
        int age = Integer.parseInt(digits);
        return age < 1 || age > 125 ? null : fact(FactKeys.AGE, digits, true, 0.7);
    }

    private static Fact job(String words) {
        String lower = words.toLowerCase(Locale.ROOT);
        String head = lower.substring(lower.lastIndexOf(' ') + 1);
        return JOBS.contains(head) ? fact(FactKeys.JOB, words, true, 0.8) : null;
    }

    private static Fact relation(String relation, String name) {
        String who = RELATIONS.get(relation.toLowerCase(Locale.ROOT));
        String value = person(name);
        return who == null || value == null ? null : fact("user." + who + "_name", value, false, 0.7);
    }

    private static Fact preference(String raw) {
        String value = cut(raw);
        if (value == null) return null;
        String lower = value.toLowerCase(Locale.ROOT);
        String head = lower.substring(lower.lastIndexOf(' ') + 1);
        String category = PREFERENCE_CATEGORIES.get(head);
        if (category == null) category = FactKeys.slug(head.length() > 3 && head.endsWith("s") ? head.substring(0, head.length() - 1) : head);
        return category == null ? null : fact("user.preference." + category, value, false, 0.7);
    }

    private static Fact favorite(String thing, String raw) {
        String value = cut(raw);
        String slug = FactKeys.slug(thing);
        return value == null || slug == null ? null : fact("user.favorite_" + slug, value, false, 0.7);
    }

    private static Fact liking(String raw, String attitude) {
        String value = cut(raw);
        if (value == null || value.toLowerCase(Locale.ROOT).startsWith("to ")) return null;
        String slug = FactKeys.slug(value);
        return slug == null ? null : fact("user.likes." + slug, attitude + " " + value, false, 0.6);
    }

    private static Fact trip(String place, String when) {
        String p = place(place);
        String w = date(when);
        return p == null || w == null ? null : fact(FactKeys.NEXT_TRIP, p + " " + w, false, 0.7);
    }

    private static Fact plan(String raw) {
        String value = cut(raw);
        if (value == null) return null;
        String slug = FactKeys.slug(value.split("\\s+")[0]);
        return slug == null ? null : fact("user.plan." + slug, value, false, 0.6);
    }

    private static Fact schedule(String what, String when) {
        String slug = FactKeys.slug(what.replaceAll("(?i)^(?:my|the|a|an) ", ""));
        String w = date(when);
        return slug == null || w == null ? null : fact("user.schedule." + slug, w, false, 0.7);
    }

    private static Fact attribute(String what, String raw) {
        String slug = FactKeys.slug(what);
        String value = cut(raw);
        return slug == null || value == null ? null : fact("user." + slug, value, false, 0.7);
    }

    // ---- values -----------------------------------------------------------------------------------

    /** The value at the start of {@code raw}: up to the first word that begins a description, without filler; null if none. */
    static String cut(String raw) {
        return clean(raw, CUT);
    }

    private static String date(String raw) {
        return clean(raw, CUT_DATE);
    }

    /** A place or an organisation: as {@link #cut}, and never "a new flat" or "my parents'". */
    private static String place(String raw) {
        String v = cut(raw);
        return v == null || INDEFINITE.matcher(v).lookingAt() ? null : v;
    }

    /** A name: one to three words. */
    private static String person(String raw) {
        String v = cut(raw);
        return v == null || v.split("\\s+").length > 3 ? null : v;
    }

    private static String clean(String raw, Pattern cutAt) {
        String v = raw.strip();
        Matcher m = cutAt.matcher(v);
        if (m.find()) v = v.substring(0, m.start());
        v = v.replaceAll("[.!?…)\"'`]+$", "").strip();
        for (int i = 0; i < 3; i++) v = TRAILING.matcher(v).replaceAll("").strip();
        if (v.isEmpty() || v.split("\\s+").length > MAX_VALUE_WORDS || v.length() > 80) return null;
        if (NOT_VALUES.contains(v.toLowerCase(Locale.ROOT))) return null;
        return v;
    }

    private static String normalize(String s) {
        return s.replace('\u2019', '\'').replace('\u2018', '\'').replace('\u201c', '"').replace('\u201d', '"')
                .replaceAll("[ \\t\\x0B\\f\\r]+", " ");
    }

    private static String strip(Pattern markers, String t) {
        Matcher m = markers.matcher(t);
        return m.lookingAt() ? t.substring(m.end()).strip() : t;
    }

    private static boolean startsWithVerb(String t) {
        return Pattern.compile("^(?:work|live|moved|prefer|love|like|hate|enjoy|just)\\b", CI).matcher(t).lookingAt();
    }

    private static String alternation(Set<String> words) {
        return String.join("|", words.stream().sorted((a, b) -> b.length() - a.length()).map(Pattern::quote).toList());
    }

    private static Map<String, String> categories(Map<String, String> byCategory) {
        Map<String, String> out = new java.util.HashMap<>();
        byCategory.forEach((category, words) -> {
            for (String w : words.split(" ")) out.put(w, category);
        });
        return Map.copyOf(out);
    }
}
