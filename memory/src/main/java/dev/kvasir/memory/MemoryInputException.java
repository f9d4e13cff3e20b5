package dev.kvasir.memory;

/** Bad input from a caller, naming the parameter that was wrong; nothing was written. */
public final class MemoryInputException extends RuntimeException {
    private final String param;

    public MemoryInputException(String param, String message) {
        super(message);
        this.param = param;
    }

    /** The API parameter at fault, as OpenAI's error object names it ({@code user}, {@code k}, ...). */
    public String param() {
        return param;
    }
}
