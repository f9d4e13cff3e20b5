package dev.kvasir.memory.facts;

/**
 * What an extractor may know besides the message: the key of the latest fact of the conversation,
 * so that a bare correction ("no, I meant Porto") lands on the attribute it corrects.
 */
public record FactContext(String lastFactKey) {
    public static final FactContext NONE = new FactContext(null);
}
