package dev.kvasir.models.tokenizer;

/**
 * A piece of text to encode, and whether special-token strings inside it may become special
 * tokens. Prompts mix trusted template text ({@code parseSpecial = true}) with user content
 * ({@code false}).
 */
public record TextSpan(String text, boolean parseSpecial) {
    public TextSpan {
        if (text == null) throw new IllegalArgumentException("span text is null");
    }
}
