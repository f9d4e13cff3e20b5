package dev.kvasir.memory;

/**
 * A memory a search returned: its fused {@code score} (what ranked it), its cosine
 * {@code similarity} to the query (0 when the query was not embedded), its BM25 score (0 when BM25
 * did not find it) and {@code line}, the exact text it is injected as.
 */
public record SearchHit(Memory memory, double score, double similarity, double lexicalScore, String line) {}
