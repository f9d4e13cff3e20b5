package dev.kvasir.models.tokenizer;

/**
 * Where decoding drops SentencePiece's dummy-prefix space: from the first token after an optional
 * leading BOS, as llama.cpp's detokenizer does. One place, so {@link Tokenizer#decode} and
 * {@link IncrementalDetokenizer} cannot disagree.
 */
final class LeadingSpaceRule {

    private LeadingSpaceRule() {}

    /** Whether {@code ids[index]} is the token whose leading space decode drops. */
    static boolean isFirstTextToken(Tokenizer tokenizer, int[] ids, int index) {
        if (!tokenizer.addsSpacePrefix()) return false;
        int first = ids.length > 0 && ids[0] == tokenizer.bosId() ? 1 : 0;
        return index == first;
    }

    /** The same rule for a stream: {@code id} arrives at {@code position}; {@code firstId} came at position 0. */
    static boolean isFirstTextToken(Tokenizer tokenizer, int position, int id, int firstId) {
        if (!tokenizer.addsSpacePrefix()) return false;
        int bos = tokenizer.bosId();
        return position == 0 ? id != bos : position == 1 && firstId == bos;
    }
}
