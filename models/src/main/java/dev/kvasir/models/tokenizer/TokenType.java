package dev.kvasir.models.tokenizer;

/** GGUF {@code tokenizer.ggml.token_type} values (llama.cpp's {@code llama_token_type}). */
public enum TokenType {
    UNDEFINED, NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE;

    /** The type for a GGUF code; codes outside the table count as NORMAL, as llama.cpp does. */
    public static TokenType of(int code) {
        TokenType[] all = values();
        return code >= 1 && code < all.length ? all[code] : NORMAL;
    }

    /** Strings matched in text only when the caller allows special tokens. */
    public boolean isSpecial() {
        return this == CONTROL || this == USER_DEFINED;
    }
}
