package dev.kvasir.server.api;

import java.util.List;

/** A validated {@code POST /v1/completions} body: one or more prompts, as text or token ids. */
public record CompletionRequest(String model, List<Prompt> prompts, GenerationSpec spec, String user) {

    /** Exactly one of text and tokens is set. */
    public record Prompt(String text, int[] tokens) {}

    public CompletionRequest {
        prompts = List.copyOf(prompts);
    }
}
