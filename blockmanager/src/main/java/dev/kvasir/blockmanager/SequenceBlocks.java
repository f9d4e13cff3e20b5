package dev.kvasir.blockmanager;

import java.util.Arrays;

/**
 * One sequence's state inside the manager. Objects are recycled after free, so their arrays are
 * reused and steady-state allocate/free allocates nothing.
 */
final class SequenceBlocks {

    long id;
    long extraKey;
    int[] tokens = new int[64];
    int numTokens;
    /** KV is computed for tokens [0, numComputed). */
    int numComputed;
    /** Blocks [0, numRegistered) are in the prefix cache (the sequence's own or a hit). */
    int numRegistered;
    /** Prefix id and chained hash of block numRegistered - 1 (root values when none). */
    long lastPrefixId;
    long lastHashHi;
    long lastHashLo;
    /** True while the table holds CPU block ids. */
    boolean swapped;
    final BlockTable table = new BlockTable(8);

    void reset(long seqId, long extra) {
        id = seqId;
        extraKey = extra;
        numTokens = 0;
        numComputed = 0;
        swapped = false;
        table.truncate(0);
        resetRegistration();
    }

    void resetRegistration() {
        numRegistered = 0;
        lastPrefixId = 0;
        lastHashHi = PrefixHash.ROOT_HI;
        lastHashLo = PrefixHash.ROOT_LO;
    }

    void ensureTokenCapacity(int n) {
        if (n > tokens.length) {
            tokens = Arrays.copyOf(tokens, Math.max(n, tokens.length * 2));
        }
    }

    void copyFrom(SequenceBlocks other) {
        extraKey = other.extraKey;
        ensureTokenCapacity(other.numTokens);
        System.arraycopy(other.tokens, 0, tokens, 0, other.numTokens);
        numTokens = other.numTokens;
        numComputed = other.numComputed;
        numRegistered = other.numRegistered;
        lastPrefixId = other.lastPrefixId;
        lastHashHi = other.lastHashHi;
        lastHashLo = other.lastHashLo;
        swapped = other.swapped;
        table.copyFrom(other.table);
    }
}
