package dev.kvasir.bench.constraint;

import dev.kvasir.models.tokenizer.TextSpan;
import dev.kvasir.models.tokenizer.Tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A Llama 3 style byte-level vocabulary of any size, for measuring constraints where no real
 * 128k tokenizer file is at hand: the 256 single bytes, then byte strings drawn the way BPE
 * vocabularies look: English-like words with and without a leading space and capitalized, one to
 * three digit numbers, punctuation and code/JSON clusters ({@code ":"}, {@code "},}, {@code {"},
 * {@code ]);}), whitespace runs and newlines with indentation, words glued to punctuation, and
 * multi-byte UTF-8 (accented Latin, Cyrillic, CJK, emoji); then 256 special tokens as Llama 3 has
 * (begin/end of text, header markers, end of turn as the stop token). Only what constraints read
 * is implemented: token bytes and kinds; it cannot encode text.
 */
final class SyntheticVocabulary implements Tokenizer {

    private static final String LETTERS = "etaoinshrdlcumwfgypbvkjxqz";
    private static final String[] CLUSTERS = {"\":", "\",", "\"}", "\"]", "{\"", "[\"", "},", "],", "}}", "]]", "});", "]);", "\": \"",
            "\":\"", "\": ", "\", \"", "\"},", "\"}]", "[{", "{}", "[]", "()", "();", "=>", "->", "::", "//", "/*", "*/", "==", "!=", "<=",
            ">=", "&&", "||", "...", "\\n", "\\\"", "\\\\", "://", "${", "#{", "');", "\");", "', '", "\", ", "\":[", "\":{", "\\u"};
    private static final String[] UNICODE = {"é", "è", "à", "ü", "ö", "ñ", "ç", "ß", "д", "и", "в", "п", "р", "о", "с", "т", "中", "国", "的",
            "是", "日", "本", "語", "한", "국", "😀", "🙂", "ā", "ł", "ę"};

    private final List<byte[]> tokens = new ArrayList<>();
    private final int specialsFrom;
    private final int stop;

    SyntheticVocabulary(int size, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Set<String> seen = new LinkedHashSet<>();
        for (int b = 0; b < 256; b++) tokens.add(new byte[] {(byte) b});
        int textTokens = size - 256;
        while (tokens.size() < textTokens) {
            String s = draw(r);
            if (s.isEmpty() || !seen.add(s)) continue;
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            if (bytes.length == 1) continue;
            tokens.add(bytes);
            // Byte-level BPE also holds pieces of multi-byte characters.
            if (bytes.length > 2 && (bytes[0] & 0x80) != 0 && r.nextInt(8) == 0 && tokens.size() < textTokens) {
                byte[] part = java.util.Arrays.copyOf(bytes, 2);
                if (seen.add(new String(part, StandardCharsets.ISO_8859_1) + "\u0000")) tokens.add(part);
            }
        }
        specialsFrom = tokens.size();
        for (int i = 0; tokens.size() < size; i++) tokens.add(("<|reserved_special_token_" + i + "|>").getBytes(StandardCharsets.UTF_8));
        stop = specialsFrom + 9; // as <|eot_id|> sits among Llama 3's specials
    }

    private static String draw(SplittableRandom r) {
        int kind = r.nextInt(100);
        if (kind < 55) {
            String w = word(r);
            if (r.nextInt(3) == 0) w = Character.toUpperCase(w.charAt(0)) + w.substring(1);
            return r.nextInt(10) < 6 ? " " + w : w;
        }
        if (kind < 62) return (r.nextBoolean() ? " " : "") + r.nextInt(r.nextBoolean() ? 10 : r.nextBoolean() ? 100 : 1000);
        if (kind < 75) {
            String c = CLUSTERS[r.nextInt(CLUSTERS.length)];
            return r.nextInt(4) == 0 ? " " + c : r.nextInt(4) == 0 ? c + "\n" : c;
        }
        if (kind < 82) {
            int n = 1 + r.nextInt(16);
            return r.nextInt(3) == 0 ? "\n" + " ".repeat(n) : r.nextInt(4) == 0 ? "\t".repeat(1 + r.nextInt(4)) : " ".repeat(n) + (r.nextBoolean() ? "" : "\n");
        }
        if (kind < 90) return word(r) + CLUSTERS[r.nextInt(CLUSTERS.length)].substring(0, 1);
        StringBuilder sb = new StringBuilder(r.nextBoolean() ? " " : "");
        int n = 1 + r.nextInt(4);
        for (int i = 0; i < n; i++) sb.append(UNICODE[r.nextInt(UNICODE.length)]);
        return sb.toString();
    }

    private static String word(SplittableRandom r) {
        int n = 2 + r.nextInt(9);
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            // Skewed towards frequent letters, as real vocabularies are.
            int k = (int) (LETTERS.length() * Math.pow(r.nextDouble(), 2));
            sb.append(LETTERS.charAt(k));
        }
        return sb.toString();
    }

    @Override
    public int[] encode(List<TextSpan> spans, boolean addBos) {
        throw new UnsupportedOperationException("the synthetic vocabulary has no merges: it cannot encode text");
    }

    @Override
    public byte[] tokenBytes(int id) {
        return id >= specialsFrom ? new byte[0] : tokens.get(id).clone();
    }

    @Override
    public String tokenString(int id) {
        return new String(tokens.get(id), StandardCharsets.UTF_8);
    }

    @Override
    public boolean isSpecial(int id) {
        return id >= specialsFrom;
    }

    @Override
    public int vocabSize() {
        return tokens.size();
    }

    @Override
    public int bosId() {
        return specialsFrom;
    }

    @Override
    public int[] stopTokenIds() {
        return new int[] {stop};
    }

    @Override
    public boolean addsSpacePrefix() {
        return false;
    }
}
