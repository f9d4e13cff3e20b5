package dev.kvasir.models.tokenizer;

import java.util.Random;

/** Seeded random strings over the kinds of text tokenizers get wrong. */
final class RandomText {

    private static final String[] PIECES = {
            " ", "  ", "\n", "\t", "\r\n", "the", " cat", "Hello", "I'm", "don't", "123", "4567", "!", "?!", "...",
            "é", "e\u0301", "ñ", "ü", "ß", "Ω", "Привет", "日本語", "中文", "한국어", "ก", "🦙", "👍🏽", "👨‍👩‍👧", "🇫🇷",
            "\u3000", "\u00A0", "\u200B", "<s>", "</s>", "<|im_end|>", "<0x0A>", "\uFFFD", "\u0000", "𝔘𝔫𝔦"};

    private RandomText() {}

    /** A string mixing known pieces, random code points from every plane and lone surrogates. */
    static String next(Random random, boolean allowSpaceMark) {
        StringBuilder out = new StringBuilder();
        int parts = random.nextInt(12);
        for (int i = 0; i < parts; i++) {
            switch (random.nextInt(6)) {
                case 0, 1, 2 -> out.append(PIECES[random.nextInt(PIECES.length)]);
                case 3 -> out.appendCodePoint(randomCodePoint(random));
                case 4 -> out.append((char) (0xD800 + random.nextInt(0x800))); // a lone surrogate
                default -> out.append((char) (0x20 + random.nextInt(0x5F)));
            }
        }
        String s = out.toString();
        return allowSpaceMark ? s : s.replace('\u2581', '_');
    }

    private static int randomCodePoint(Random random) {
        while (true) {
            int cp = switch (random.nextInt(4)) {
                case 0 -> random.nextInt(0x80);
                case 1 -> 0x80 + random.nextInt(0x800 - 0x80);
                case 2 -> 0x800 + random.nextInt(0x10000 - 0x800);
                default -> 0x10000 + random.nextInt(0x110000 - 0x10000);
            };
            if (cp < 0xD800 || cp > 0xDFFF) return cp;
        }
    }
}
