package dev.kvasir.models.tokenizer;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kvasir.models.loader.FuzzSeeds;

import java.nio.file.Path;
import java.util.List;

/**
 * Fuzz targets for both GGUF tokenizer kinds, on any text: encoding never fails, never yields a
 * special token from user text, gives the same ids however the text is cut into spans, and
 * decodes back to the text (made well-formed UTF-16; SentencePiece reads U+2581 as a space).
 * SentencePiece runs over the real stories260K and Llama 2 vocabularies and a small one;
 * byte-level BPE over a small vocabulary with each pre-tokenizer family.
 */
class TokenizerFuzzTest {

    private static final List<Tokenizer> SENTENCE_PIECE = List.of(TestVocabularies.stories(), TestVocabularies.llama2(),
            Tokenizers.fromGgufMetadata(FuzzSeeds.llamaVocabulary(), Path.of("fuzz-seed")));
    private static final List<Tokenizer> BYTE_LEVEL = List.of(TestVocabularies.smallGpt2("default"),
            TestVocabularies.smallGpt2("llama-bpe"), TestVocabularies.smallGpt2("smollm"),
            Tokenizers.fromGgufMetadata(FuzzSeeds.gpt2Vocabulary(), Path.of("fuzz-seed")));

    @FuzzTest(maxDuration = "10s")
    void sentencePiece(FuzzedDataProvider data) {
        Tokenizer tokenizer = SENTENCE_PIECE.get(data.consumeInt(0, SENTENCE_PIECE.size() - 1));
        int cut = data.consumeInt(0, 1 << 16);
        String text = data.consumeRemainingAsString();
        roundTrip(tokenizer, text, cut, Utf8.wellFormed(text).replace('\u2581', ' '));
    }

    @FuzzTest(maxDuration = "10s")
    void byteLevelBpe(FuzzedDataProvider data) {
        Tokenizer tokenizer = BYTE_LEVEL.get(data.consumeInt(0, BYTE_LEVEL.size() - 1));
        int cut = data.consumeInt(0, 1 << 16);
        String text = data.consumeRemainingAsString();
        roundTrip(tokenizer, text, cut, Utf8.wellFormed(text));
    }

    private static void roundTrip(Tokenizer tokenizer, String text, int cut, String expected) {
        int[] ids = tokenizer.encode(text, false, false);
        for (int id : ids) {
            if (id < 0 || id >= tokenizer.vocabSize()) throw new AssertionError("id " + id + " outside the vocabulary");
            if (tokenizer.isSpecial(id)) throw new AssertionError("user text became special token " + tokenizer.tokenString(id));
        }
        String decoded = tokenizer.decode(ids);
        if (!decoded.equals(expected)) {
            throw new AssertionError("round trip changed the text: " + escape(expected) + " -> " + escape(decoded));
        }
        int at = Math.min(cut, text.length());
        // Not inside a surrogate pair: the halves of one character are not two pieces of text.
        if (at > 0 && at < text.length() && Character.isHighSurrogate(text.charAt(at - 1)) && Character.isLowSurrogate(text.charAt(at))) {
            at--;
        }
        int[] split = tokenizer.encode(List.of(new TextSpan(text.substring(0, at), false), new TextSpan(text.substring(at), false)), false);
        if (!java.util.Arrays.equals(ids, split)) throw new AssertionError("a span boundary at " + at + " changed the ids");
        int[] withBos = tokenizer.encode(text, true, false);
        int offset = withBos.length - ids.length;
        if (offset < 0 || offset > 1 || (offset == 1 && withBos[0] != tokenizer.bosId())
                || !java.util.Arrays.equals(ids, 0, ids.length, withBos, offset, withBos.length)) {
            throw new AssertionError("BOS changed more than the first id");
        }
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder();
        s.chars().forEach(c -> b.append(c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\u%04x", c)));
        return b.toString();
    }
}
