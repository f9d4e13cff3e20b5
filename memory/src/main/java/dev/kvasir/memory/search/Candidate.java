package dev.kvasir.memory.search;

import dev.kvasir.memory.Memory;

/**
 * A memory one of the two retrievers found: its rank (0 = best) and raw score in each, -1 and 0
 * where that retriever did not return it; {@code lexicalShare} is its BM25 score over the sum of
 * the query terms' IDFs (about the score of a text holding every query term): near 1 when it
 * matches the query's rare words, near 0 when only common ones; {@code similarity} is its cosine
 * to the query whenever the query was embedded, whichever side found it.
 */
public record Candidate(Memory memory, int lexicalRank, float lexicalScore, float lexicalShare, int denseRank, float similarity) {}
