package dev.kvasir.models.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Splits text into the words byte-level BPE merges inside, by the regexes llama.cpp uses for each
 * {@code tokenizer.ggml.pre}. Regexes apply in sequence; each keeps its matches and the text
 * between them as separate pieces.
 *
 * <p>Written for java.util.regex: {@code \s} there means ASCII whitespace only, so the patterns
 * spell out Unicode's White_Space set (what Python's {@code regex}, Oniguruma and llama.cpp match)
 * instead of using {@code (?U)}, which would also turn on Unicode case folding in {@code (?i:'s)}.
 */
final class PreTokenizer {

    /** Unicode White_Space, usable inside a character class. */
    private static final String WS = "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}"
            + "\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

    /** GPT-2's pattern (the default for gpt2 vocabularies). */
    static final String GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** Llama 3's pattern (tokenizer.json of Meta-Llama-3, llama.cpp {@code llama-bpe}). */
    static final String LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /** SmolLM / StarCoder: every digit alone (HF {@code Digits(individual_digits)}), then GPT-2's pattern. */
    static final String DIGIT = "\\p{N}";

    private final List<Pattern> patterns;
    /** Llama 3 looks a whole word up before merging ({@code ignore_merges} in its tokenizer.json). */
    private final boolean wholeWordFirst;

    private PreTokenizer(boolean wholeWordFirst, String... regexes) {
        this.wholeWordFirst = wholeWordFirst;
        this.patterns = new ArrayList<>();
        for (String regex : regexes) patterns.add(Pattern.compile(javaRegex(regex)));
    }

    /** The pre-tokenizer for a {@code tokenizer.ggml.pre} value (null means GPT-2's). */
    static PreTokenizer forName(String pre) {
        String name = pre == null ? "default" : pre.toLowerCase(Locale.ROOT);
        return switch (name) {
            case "default", "gpt2", "gpt-2" -> new PreTokenizer(false, GPT2);
            case "llama-bpe", "llama3", "llama-v3" -> new PreTokenizer(true, LLAMA3);
            case "smollm", "starcoder", "refact", "codeshell" -> new PreTokenizer(false, DIGIT, GPT2);
            default -> throw new IllegalArgumentException("unsupported tokenizer.ggml.pre '" + pre
                    + "' (supported: default/gpt2, llama-bpe, smollm, starcoder)");
        };
    }

    boolean wholeWordFirst() {
        return wholeWordFirst;
    }

    List<String> split(String text) {
        List<String> pieces = List.of(text);
        for (Pattern pattern : patterns) {
            List<String> next = new ArrayList<>();
            for (String piece : pieces) splitOne(pattern, piece, next);
            pieces = next;
        }
        return pieces;
    }

    private static void splitOne(Pattern pattern, String text, List<String> out) {
        Matcher m = pattern.matcher(text);
        int last = 0;
        while (m.find()) {
            if (m.start() > last) out.add(text.substring(last, m.start()));
            if (m.end() > m.start()) out.add(m.group());
            last = m.end();
        }
        if (last < text.length()) out.add(text.substring(last));
    }

    /** {@code \s} and {@code \S} in Unicode's sense, inside and outside character classes. */
    static String javaRegex(String regex) {
        StringBuilder out = new StringBuilder();
        boolean inClass = false;
        for (int i = 0; i < regex.length(); i++) {
            char c = regex.charAt(i);
            if (c == '\\' && i + 1 < regex.length()) {
                char e = regex.charAt(++i);
                if (e == 's') out.append(inClass ? WS : "[" + WS + "]");
                else if (e == 'S') {
                    if (inClass) throw new IllegalArgumentException("\\S inside a class is not supported: " + regex);
                    out.append("[^").append(WS).append(']');
                } else out.append(c).append(e);
            } else {
                if (c == '[') inClass = true;
                else if (c == ']') inClass = false;
                out.append(c);
            }
        }
        return out.toString();
    }
}
