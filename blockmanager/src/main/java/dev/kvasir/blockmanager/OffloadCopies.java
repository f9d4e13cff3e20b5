package dev.kvasir.blockmanager;

/**
 * Copies between the device pool and the host offload tier that the backend performs before the
 * step's forward pass, in this order: every store (device block {@code storeSrc[i]}, a cached block
 * being evicted for reuse, to host block {@code storeDst[i]}) first, since the step may overwrite
 * those device blocks; then, after any swap plans, every load (host block {@code loadSrc[i]}, a
 * prefix-cache hit on the host tier, to the device block {@code loadDst[i]} that now holds it).
 */
public record OffloadCopies(int[] storeSrc, int[] storeDst, int[] loadSrc, int[] loadDst) {

    public OffloadCopies {
        if (storeSrc.length != storeDst.length || loadSrc.length != loadDst.length) {
            throw new IllegalArgumentException("unpaired offload copies: " + storeSrc.length + "/" + storeDst.length
                    + " stores, " + loadSrc.length + "/" + loadDst.length + " loads");
        }
    }

    public boolean isEmpty() {
        return storeSrc.length == 0 && loadSrc.length == 0;
    }
}
