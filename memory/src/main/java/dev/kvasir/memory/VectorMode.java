package dev.kvasir.memory;

import java.util.Locale;

/**
 * {@code --memory-vectors}: how search indexes hold vectors in memory. {@code float}: each vector as
 * float32 plus int8 codes for the scan (1,924 bytes); {@code pq}: product-quantized codes only (48
 * bytes: 48 sub-vectors of 8 dimensions, 256 centroids each), with the best candidates re-ranked
 * on their exact vectors read from the store.
 */
public enum VectorMode {
    FLOAT, PQ;

    public static VectorMode parse(String value) {
        for (VectorMode m : values()) if (m.name().toLowerCase(Locale.ROOT).equals(value)) return m;
        throw new IllegalArgumentException("--memory-vectors must be float or pq, got '" + value + "'");
    }
}
