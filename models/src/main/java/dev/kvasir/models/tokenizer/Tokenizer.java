package dev.kvasir.models.tokenizer;

import java.util.List;

/**
 * Text to token ids and back. Implementations: GGUF {@code llama} (SentencePiece BPE with byte
 * fallback), GGUF {@code gpt2} (byte-level BPE), Hugging Face {@code tokenizer.json} (DJL).
 *
 * <p>Text rule: unpaired surrogates in Java strings are encoded as U+FFFD, so
 * {@code decode(encode(s, b, false)) == Utf8.wellFormed(s)} (SentencePiece vocabularies also read
 * U+2581 {@code ▁} as a space, as SentencePiece itself does).
 */
public interface Tokenizer {

    /**
     * Token ids of {@code text}.
     *
     * @param addBos       prepend the BOS token (when the model has one and its tokenizer
     *                     config adds it: GGUF {@code add_bos_token}, {@code tokenizer_config.json})
     * @param parseSpecial recognise special-token strings ({@code <|im_start|>}) in the text; never
     *                     true for user-supplied text, so users cannot forge control tokens
     */
    default int[] encode(String text, boolean addBos, boolean parseSpecial) {
        return encode(List.of(new TextSpan(text, parseSpecial)), addBos);
    }

    /**
     * Token ids of the spans' joined text, special-token strings recognised only inside spans that
     * allow it. Tokens come out as though the joined text were encoded at once: a span boundary
     * inside ordinary text changes nothing. Added for prompts, which mix template and user text.
     */
    int[] encode(List<TextSpan> spans, boolean addBos);

    /** Raw bytes a token stands for (byte-fallback and byte-level tokens decoded); empty for control tokens. */
    byte[] tokenBytes(int id);

    /**
     * Text of {@code ids}, control tokens skipped, invalid UTF-8 replaced by U+FFFD (one per
     * maximal ill-formed subpart, see {@link Utf8}). When {@link #addsSpacePrefix()}, the first
     * token after an optional leading BOS loses one leading space.
     */
    default String decode(int[] ids) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(ids.length * 4);
        for (int i = 0; i < ids.length; i++) {
            byte[] bytes = tokenBytes(ids[i]);
            int skip = LeadingSpaceRule.isFirstTextToken(this, ids, i) && bytes.length > 0 && bytes[0] == ' ' ? 1 : 0;
            out.write(bytes, skip, bytes.length - skip);
        }
        return Utf8.decode(out.toByteArray());
    }

    /** The token's vocabulary string as stored ({@code ▁the}, {@code <0x0A>}, {@code <|eot_id|>}). */
    String tokenString(int id);

    /** Control / special tokens: never produced from user text, never shown in output. */
    boolean isSpecial(int id);

    int vocabSize();

    /** BOS id, or -1 when the model has none. */
    int bosId();

    /** Tokens that end generation (EOS, EOT and the like). */
    int[] stopTokenIds();

    /**
     * Whether encoding puts a space before the text (SentencePiece's dummy prefix {@code ▁}), which
     * {@link #decode} then drops again. Added so the incremental detokenizer can follow decode.
     */
    boolean addsSpacePrefix();
}
