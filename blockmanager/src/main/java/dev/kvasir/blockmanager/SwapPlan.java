package dev.kvasir.blockmanager;

/**
 * Whole-block copies for preemption by swapping: swap-out copies GPU block {@code src[i]} to CPU block
 * {@code dst[i]}; swap-in the reverse direction (CPU {@code src[i]} → GPU {@code dst[i]}).
 */
public record SwapPlan(int[] src, int[] dst) {

    public SwapPlan {
        if (src.length != dst.length) {
            throw new IllegalArgumentException("src has " + src.length + " blocks, dst " + dst.length);
        }
    }

    public int size() { return src.length; }
}
