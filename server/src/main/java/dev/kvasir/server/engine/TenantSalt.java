package dev.kvasir.server.engine;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The prefix-cache key of a tenant's blocks: the served model's key mixed with 64 bits of SHA-256 of
 * the tenant name. The block manager matches keys exactly, so two tenants never share a cached
 * block (and so never learn through {@code cached_tokens} what the other sent) unless 64-bit
 * digests collide; a plain {@code String.hashCode} would let a tenant pick a colliding name.
 */
final class TenantSalt {

    private static final ConcurrentHashMap<String, Long> DIGESTS = new ConcurrentHashMap<>();

    private TenantSalt() {}

    static long key(long modelKey, String tenant) {
        return modelKey ^ DIGESTS.computeIfAbsent(tenant, TenantSalt::digest);
    }

    private static long digest(String tenant) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(("kvasir-tenant:" + tenant).getBytes(StandardCharsets.UTF_8));
            return ByteBuffer.wrap(d).getLong();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
