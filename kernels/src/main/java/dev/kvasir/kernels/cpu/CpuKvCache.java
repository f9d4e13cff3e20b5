package dev.kvasir.kernels.cpu;

import dev.kvasir.kernels.KvCache;
import dev.kvasir.kernels.KvLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * K and V pages off the Java heap (a large cache must not need a large heap): per layer one
 * segment for K and one for V, of {@link KvStorage} elements. V is
 * {@code [numBlocks][blockSize][numKvHeads][headDim]}, as {@link KvLayout} describes; K is
 * {@code [numBlocks][numKvHeads][headDim][blockSize]}: dimension-major inside each block, so that
 * attention reads one dimension of consecutive positions as a vector ({@link PagedAttention}).
 * A block is the same bytes either way, so block copies (copy-on-write, swap, offload) need not know.
 */
final class CpuKvCache implements KvCache {

    private final KvLayout layout;
    final KvStorage storage;
    private final Arena arena = Arena.ofShared();
    final MemorySegment[] k;
    final MemorySegment[] v;

    CpuKvCache(KvLayout layout, KvStorage storage) {
        this.layout = layout;
        this.storage = storage;
        long bytes = Math.max(1, layout.numBlocks() * layout.blockFloats() * storage.bytes);
        k = new MemorySegment[layout.numLayers()];
        v = new MemorySegment[layout.numLayers()];
        for (int l = 0; l < layout.numLayers(); l++) {
            k[l] = ZeroPages.allocate(bytes, arena);
            v[l] = ZeroPages.allocate(bytes, arena);
        }
    }

    @Override
    public KvLayout layout() {
        return layout;
    }

    /** Byte offset of a slot's first element in a layer segment. */
    long slotOffset(long slot) {
        return slot * layout.slotFloats() * storage.bytes;
    }

    /** Byte offset of a slot's first key element; element {@code i} is {@code i * blockSize} elements further. */
    long keyOffset(long slot) {
        long block = slot / layout.blockSize();
        return (block * layout.blockFloats() + slot % layout.blockSize()) * storage.bytes;
    }

    long blockBytes() {
        return layout.blockFloats() * storage.bytes;
    }

    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    /** An f16 or bf16 element, in native order as the floats. */
    static final ValueLayout.OfShort HALF = ValueLayout.JAVA_SHORT;

    @Override
    public void close() {
        arena.close();
    }

    static CpuKvCache of(KvCache c) {
        if (c instanceof CpuKvCache cpu) return cpu;
        throw new IllegalArgumentException("not a CPU KV cache: " + c);
    }
}
