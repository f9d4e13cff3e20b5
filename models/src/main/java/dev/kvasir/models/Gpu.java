package dev.kvasir.models;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * GPUs the capacity planner knows, by the memory their driver reports (nvidia-smi's total, in MiB;
 * the CUDA context and libraries take their share out of it: {@link CapacityPlanner}'s reserve).
 */
public enum Gpu {
    A100_40GB("a100-40gb", 40_960),
    A100_80GB("a100-80gb", 81_920),
    H100_80GB("h100-80gb", 81_559),
    H200("h200", 143_771);

    public final String id;
    public final long bytes;

    Gpu(String id, long mib) {
        this.id = id;
        this.bytes = mib << 20;
    }

    /** @throws IllegalArgumentException naming {@code --gpu} and the known ones */
    public static Gpu parse(String id) {
        for (Gpu g : values()) if (g.id.equals(id.toLowerCase(Locale.ROOT))) return g;
        throw new IllegalArgumentException("--gpu must be one of " + Arrays.stream(values()).map(g -> g.id)
                .collect(Collectors.joining(", ")) + "; got '" + id + "'");
    }
}
