package dev.kvasir.blockmanager;

/**
 * What a physical block is doing, as {@link KvCacheManager#blockStates} reports it for diagnostics
 * (the console's block map). Codes are bytes so a snapshot of a large pool is one primitive array.
 */
public final class BlockState {

    /** Free and holding nothing worth keeping. */
    public static final byte FREE = 0;
    /** Free, but still holding a cached prefix: a later prompt can reuse it until it is evicted. */
    public static final byte CACHED = 1;
    /** Held by one sequence. */
    public static final byte USED = 2;
    /** Held by several sequences (a shared prefix, or forked choices). */
    public static final byte SHARED = 3;
    /** A CPU swap-pool block holding a swapped-out sequence's KV. */
    public static final byte SWAPPED = 4;

    /** The names of the codes, indexed by code. */
    private static final String[] NAMES = {"free", "cached", "used", "shared", "swapped"};

    private BlockState() {}

    /** The lower-case name of a code ({@code free}, {@code cached}, {@code used}, {@code shared}, {@code swapped}). */
    public static String name(byte state) {
        if (state < 0 || state >= NAMES.length) throw new IllegalArgumentException("unknown block state " + state);
        return NAMES[state];
    }

    /** How many codes there are (the codes are 0 to count - 1). */
    public static int count() {
        return NAMES.length;
    }
}
