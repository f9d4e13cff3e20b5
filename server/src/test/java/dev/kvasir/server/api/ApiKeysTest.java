package dev.kvasir.server.api;

import io.netty.handler.codec.http.HttpResponseStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The key file's format, its errors (file and line, never a key), and reloads that keep the old keys on error. */
class ApiKeysTest {

    private static final String KEY_A = "sk-acme-0123456789abcdef";
    private static final String KEY_A2 = "sk-acme-rotated-fedcba9876";
    private static final String KEY_B = "sk-globex-5555aaaa";

    private static String bearer(String key) {
        return "Bearer " + key;
    }

    @Test
    void eachKeyIsItsTenantsAndCommentsAndBlankLinesAreIgnored(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("keys"), """
                # tenant  key
                acme   %s
                acme\t%s   # rotated in March

                globex %s
                """.formatted(KEY_A, KEY_A2, KEY_B));
        ApiKeys keys = ApiKeys.load("sk-single-key", file);
        assertEquals(4, keys.size());
        assertEquals("acme", keys.authenticate(bearer(KEY_A)).tenant());
        assertEquals("acme", keys.authenticate(bearer(KEY_A2)).tenant());
        assertEquals("globex", keys.authenticate(bearer(KEY_B)).tenant());
        assertEquals(ApiKeys.DEFAULT_TENANT, keys.authenticate(bearer("sk-single-key")).tenant());
        assertEquals("acme", keys.authenticate("bearer   " + KEY_A + "  ").tenant(), "scheme case and padding do not matter");
        assertNotEquals(keys.authenticate(bearer(KEY_A)).keyId(), keys.authenticate(bearer(KEY_A2)).keyId(),
                "per-key limits tell a tenant's keys apart");
        assertTrue(keys.authenticate(bearer(KEY_A)).authenticated());
        for (String wrong : new String[] {null, "", "Bearer", bearer(""), bearer(KEY_A + "x"), bearer(KEY_A.substring(1)),
                "Basic " + KEY_A, KEY_A, bearer("acme")}) {
            ApiException e = assertThrows(ApiException.class, () -> keys.authenticate(wrong), String.valueOf(wrong));
            assertEquals(HttpResponseStatus.UNAUTHORIZED, e.status());
        }
    }

    @Test
    void keyIdsNeverRevealTheKey(@TempDir Path dir) throws Exception {
        ApiKeys keys = ApiKeys.load(KEY_A, null);
        String id = keys.authenticate(bearer(KEY_A)).keyId();
        assertFalse(id.contains(KEY_A) || KEY_A.contains(id), id);
        assertFalse(id.equals(java.util.HexFormat.of().formatHex(ApiKeys.sha256(KEY_A)).substring(0, id.length())),
                "not a prefix of the key's plain SHA-256, which a guess could be checked against");
    }

    @Test
    void anOpenServerAcceptsAnyoneAsTheDefaultTenant() {
        ApiKeys open = ApiKeys.load(null, null);
        assertFalse(open.required());
        ApiKeys.Principal p = open.authenticate(null);
        assertEquals(ApiKeys.DEFAULT_TENANT, p.tenant());
        assertFalse(p.authenticated());
    }

    @Test
    void malformedFilesNameFileAndLineButNeverTheKey(@TempDir Path dir) throws Exception {
        assertRefused(dir, "acme " + KEY_A + "\nglobex " + KEY_B + " extra\n", ":2: expected 'TENANT KEY' (2 fields), found 3");
        assertRefused(dir, "# comment\n" + KEY_A + "\n", ":2: expected 'TENANT KEY' (2 fields), found 1");
        assertRefused(dir, KEY_A + " acme\n", ":1: the key (second field) is shorter than 16");  // swapped: not echoed
        assertRefused(dir, "acme/west " + KEY_A + "\n", ":1: the tenant (first field) must be");
        assertRefused(dir, "acme " + KEY_A + "\nglobex " + KEY_A + "\n", ":2: the same key is already given at ");
        assertRefused(dir, "# nothing here\n\n", "holds no 'TENANT KEY' line");
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class,
                () -> ApiKeys.load(null, dir.resolve("absent")));
        assertTrue(missing.getMessage().contains("absent") && missing.getMessage().contains("--api-key-file"), missing.getMessage());
    }

    private static void assertRefused(Path dir, String content, String expected) throws Exception {
        Path file = Files.writeString(dir.resolve("keys-" + Math.abs(content.hashCode())), content);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ApiKeys.load(null, file));
        assertTrue(e.getMessage().startsWith(file.toString()) || e.getMessage().contains(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertFalse(e.getMessage().contains(KEY_A) || e.getMessage().contains(KEY_B), "a key in the message: " + e.getMessage());
    }

    @Test
    void reloadSwapsKeysAndABadFileKeepsTheOldOnes(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("keys"), "acme " + KEY_A + "\n");
        ApiKeys keys = ApiKeys.load(null, file);
        Files.writeString(file, "acme " + KEY_A2 + "\nglobex " + KEY_B + "\n");
        assertTrue(keys.reload());
        assertEquals("globex", keys.authenticate(bearer(KEY_B)).tenant());
        assertThrows(ApiException.class, () -> keys.authenticate(bearer(KEY_A)), "a removed key stops working");
        Files.writeString(file, "acme " + KEY_A + " oops\n");
        assertFalse(keys.reload());
        assertEquals("globex", keys.authenticate(bearer(KEY_B)).tenant(), "the keys in force stay");
        assertThrows(ApiException.class, () -> keys.authenticate(bearer(KEY_A)));
        Files.delete(file);
        assertFalse(keys.reload());
        assertEquals(2, keys.size());
    }
}
