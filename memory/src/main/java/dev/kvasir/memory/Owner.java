package dev.kvasir.memory;

/**
 * The tenant (from the API key) and the user (from the request) that own a memory. Every read and
 * write is scoped by both; nothing crosses owners. Validated on construction, so an Owner in hand is
 * always well formed.
 */
public record Owner(String tenant, String user) {
    public Owner {
        InputRules.checkTenant(tenant);
        InputRules.checkUser(user);
    }
}
