package dev.kvasir.models.template;

/** Global functions Hugging Face chat templates call, registered with Jinjava by {@link ChatTemplate}. */
public final class TemplateFunctions {

    private TemplateFunctions() {}

    /** {@code raise_exception(message)}: the template rejects the conversation (e.g. roles that do not alternate). */
    public static Object raiseException(String message) {
        throw new ChatTemplateException(message);
    }
}
