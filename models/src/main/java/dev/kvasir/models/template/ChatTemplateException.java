package dev.kvasir.models.template;

/** A chat template failed: a syntax error, or the template itself refused the conversation ({@code raise_exception}). */
public final class ChatTemplateException extends RuntimeException {
    public ChatTemplateException(String message) {
        super(message);
    }
}
