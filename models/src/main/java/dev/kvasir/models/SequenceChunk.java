package dev.kvasir.models;

/**
 * One sequence's share of a forward step: a prefill chunk or one decode token.
 *
 * @param seqId       the caller's sequence id (for error messages)
 * @param tokens      this step's new tokens, at positions {@code startPos .. startPos + n - 1}
 * @param startPos    position of {@code tokens[0]}; positions before it are already in the KV cache
 * @param slotMapping KV slot of each new token ({@code block * blockSize + offset})
 * @param blockTable  physical blocks of positions {@code 0 .. startPos + n - 1}, in order
 * @param wantLogits  return the logits after the last token of this chunk
 */
public record SequenceChunk(long seqId, int[] tokens, int startPos, int[] slotMapping, int[] blockTable, boolean wantLogits) {}
