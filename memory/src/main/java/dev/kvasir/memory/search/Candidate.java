package dev.kvasir.memory.search;

import dev.kvasir.memory.Memory;

/**
 * A memory one of the two retrievers found: its rank (0 = best) and raw score in each, -1 and 0
 * where that retriever did not return it; {@code similarity} is its cosine to the query whenever
 * the query was embedded, whichever side found it.
 */
public record Candidate(Memory memory, int lexicalRank, float lexicalScore, int denseRank, float similarity) {}
