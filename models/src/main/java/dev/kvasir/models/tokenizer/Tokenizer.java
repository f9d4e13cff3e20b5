package dev.kvasir.models.tokenizer;

/**
 * Text to token ids and back. Implementations: GGUF {@code llama} (SentencePiece BPE with byte
 * fallback), GGUF {@code gpt2} (byte-level BPE), Hugging Face {@code tokenizer.json} (DJL).
 */
public interface Tokenizer {

    /**
     * Token ids of {@code text}.
     *
     * @param addBos       prepend the BOS token (when the model has one)
     * @param parseSpecial recognise special-token strings ({@code <|im_start|>}) in the text; never
     *                     true for user-supplied text, so users cannot forge control tokens
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** Raw bytes a token stands for (byte-fallback and byte-level tokens decoded); empty for control tokens. */
    byte[] tokenBytes(int id);

    /** Text of {@code ids}, control tokens skipped, invalid UTF-8 replaced by U+FFFD. */
    String decode(int[] ids);

    /** The token's vocabulary string as stored ({@code ▁the}, {@code <0x0A>}, {@code <|eot_id|>}). */
    String tokenString(int id);

    /** Control / special tokens: never produced from user text, never shown in output. */
    boolean isSpecial(int id);

    int vocabSize();

    /** BOS id, or -1 when the model has none. */
    int bosId();

    /** Tokens that end generation (EOS, EOT and the like). */
    int[] stopTokenIds();
}
