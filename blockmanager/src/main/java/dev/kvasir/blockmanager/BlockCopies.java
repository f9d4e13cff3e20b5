package dev.kvasir.blockmanager;

/**
 * Copy-on-write block copies (KV of block {@code src[i]} → block {@code dst[i]}) the backend performs,
 * in order, before the step's attention.
 */
public record BlockCopies(int[] src, int[] dst) {

    public BlockCopies {
        if (src.length != dst.length) {
            throw new IllegalArgumentException("src has " + src.length + " blocks, dst " + dst.length);
        }
    }

    public int size() { return src.length; }

    public boolean isEmpty() { return src.length == 0; }
}
