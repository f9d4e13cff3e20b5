package dev.kvasir.models.tokenizer;

/** A prompt that takes more tokens than allowed, found before (or while) it was encoded. */
public final class PromptTooLongException extends IllegalArgumentException {

    private final long atLeast;
    private final int limit;
    private final boolean exact;

    /** @param exact the prompt was encoded whole and {@code atLeast} is its token count */
    public PromptTooLongException(long atLeast, int limit, boolean exact) {
        super("the prompt takes " + (exact ? "" : "at least ") + atLeast + " tokens, more than the " + limit + " allowed");
        this.atLeast = atLeast;
        this.limit = limit;
        this.exact = exact;
    }

    /** A lower bound of the prompt's token count (its exact count when {@link #exact()}). */
    public long atLeast() {
        return atLeast;
    }

    public boolean exact() {
        return exact;
    }

    public int limit() {
        return limit;
    }
}
