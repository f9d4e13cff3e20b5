package dev.kvasir.kernels.cpu;

import java.util.Locale;

/**
 * How the CPU backend stores K and V ({@code --kv-cache-dtype}): f32 is exact against the
 * reference forward pass; f16 and bf16 halve the bytes per token (llama.cpp keeps f16 by default),
 * rounding each value to nearest even once when it is written. Attention converts rows back to
 * f32 and computes in f32.
 */
public enum KvStorage {
    F32(4),
    F16(2),
    BF16(2);

    public final int bytes;

    KvStorage(int bytes) {
        this.bytes = bytes;
    }

    /** {@code f32}, {@code f16} or {@code bf16}, any case. */
    public static KvStorage parse(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "f32", "float32" -> F32;
            case "f16", "float16", "half" -> F16;
            case "bf16", "bfloat16" -> BF16;
            default -> throw new IllegalArgumentException("--kv-cache-dtype must be f32, f16 or bf16 on the CPU, got '" + name + "'");
        };
    }
}
