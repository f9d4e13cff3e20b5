package dev.kvasir.memory;

/**
 * The served model as the memory layer uses it, for the model fact extractor and the summarizer:
 * the server implements it by submitting a low-priority generation to its engine, so the memory
 * module needs nothing of the server or the models. Called from memory's background thread only.
 */
public interface MemoryModel {

    /**
     * The model's greedy answer to one instruction (sent as a user message through its chat
     * template), at most {@code maxTokens} tokens. Blocks until done; throws when the engine
     * refuses or fails the request.
     */
    String complete(String instruction, int maxTokens);

    /** Whether the model is large enough to follow an instruction (the {@code auto} summarizer asks it then). */
    boolean followsInstructions();
}
