package dev.kvasir.memory;

/** Which retrievers a search runs: both fused (the default), BM25 alone, or embeddings alone (for evaluation). */
public enum RetrievalMode { HYBRID, LEXICAL, DENSE }
