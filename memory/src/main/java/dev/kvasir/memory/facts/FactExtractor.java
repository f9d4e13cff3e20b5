package dev.kvasir.memory.facts;

import java.util.List;

/**
 * Finds facts about the user in one of the user's messages. Never throws on any text and never
 * returns a half-formed fact: what it cannot read with confidence it leaves out.
 */
public interface FactExtractor {
    List<Fact> extract(String message, FactContext context);
}
