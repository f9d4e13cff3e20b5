package dev.kvasir.memory;

/** Counts tokens of the served model's tokenizer; memory budgets are in these tokens, never words. */
@FunctionalInterface
public interface TokenCounter {
    int count(String text);
}
