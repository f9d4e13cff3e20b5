package dev.kvasir.models.sampling.constraint;

/**
 * A schema, regex, choice list or grammar that cannot be compiled into a constraint: malformed, or
 * using a feature the compiler does not support. The message names the keyword, feature or position
 * (the API answers 400 with it), so a request is refused up front rather than decoded with a
 * keyword silently dropped.
 */
public final class ConstraintException extends RuntimeException {

    public ConstraintException(String message) {
        super(message);
    }
}
