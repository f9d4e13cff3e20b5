package dev.kvasir.models;

import java.util.List;

/**
 * One forward step over many sequences.
 *
 * @param chunks  prefill chunks and decode tokens, in any mix
 * @param copySrc blocks to copy before attention (copy-on-write), or null / empty
 * @param copyDst their destinations, same length as {@code copySrc}
 */
public record ForwardBatch(List<SequenceChunk> chunks, int[] copySrc, int[] copyDst) {

    public ForwardBatch(List<SequenceChunk> chunks) {
        this(chunks, null, null);
    }
}
