package dev.kvasir.blockmanager;

/**
 * The chained 128-bit name of a full block: (parent hash, its token ids, extra key). Two independent
 * 64-bit lanes, each a multiply-rotate accumulation finished with a murmur3 avalanche. Not a
 * cryptographic hash: the pool compares token ids on every hit, so a collision only costs a miss.
 * Static and allocation-free; callers carry the two halves as two longs.
 */
final class PrefixHash {

    /** Hash of the empty prefix: the parent of every sequence's first block. */
    static final long ROOT_HI = 0x6a09e667f3bcc908L;
    static final long ROOT_LO = 0xbb67ae8584caa73bL;

    private static final long M1 = 0x9e3779b97f4a7c15L;
    private static final long M2 = 0xc2b2ae3d27d4eb4fL;
    private static final long M3 = 0x165667b19e3779f9L;
    private static final long M4 = 0xd6e8feb86659fd93L;

    private PrefixHash() {}

    static long hi(long parentHi, long parentLo, int[] tokens, int offset, int count, long extra) {
        return lane(0x243f6a8885a308d3L, M1, M2, parentHi, parentLo, tokens, offset, count, extra);
    }

    static long lo(long parentHi, long parentLo, int[] tokens, int offset, int count, long extra) {
        return lane(0x13198a2e03707344L, M3, M4, parentLo, parentHi, tokens, offset, count, extra);
    }

    private static long lane(long seed, long m, long k, long a, long b, int[] tokens, int offset, int count, long extra) {
        long h = seed;
        h = step(h, a, m, k);
        h = step(h, b, m, k);
        h = step(h, extra, m, k);
        int i = offset;
        int end = offset + count;
        for (; i + 1 < end; i += 2) {
            h = step(h, (tokens[i] & 0xffffffffL) | ((long) tokens[i + 1] << 32), m, k);
        }
        if (i < end) {
            h = step(h, tokens[i] & 0xffffffffL, m, k);
        }
        return fmix(h ^ count);
    }

    private static long step(long h, long v, long m, long k) {
        v *= m;
        v = Long.rotateLeft(v, 31);
        v *= k;
        h ^= v;
        return Long.rotateLeft(h, 27) * 5 + 0x52dce729L;
    }

    private static long fmix(long h) {
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return h;
    }
}
