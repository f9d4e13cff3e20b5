package dev.kvasir.server.cli;

import dev.kvasir.server.KvasirServer;
import dev.kvasir.server.ListenerConfig;
import dev.kvasir.server.ServerConfig;
import dev.kvasir.server.TestCertificates;
import dev.kvasir.server.TestServers;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The banner's commands, pasted into a real shell as a user would: with the key exported as the
 * banner says, the curl example and the metrics scrape work; the key itself is never printed.
 */
class ServeBannerTest {

    private static final String KEY = "sk-banner-0123456789";

    @BeforeAll
    static void needsCurl() {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/curl")), "curl is not installed: the pasted commands cannot run");
    }

    private record Shell(int exitCode, String out) {}

    /** Runs {@code script} in bash with a clean KVASIR_API_KEY, as a fresh terminal would. */
    private static Shell bash(String script) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", script).redirectErrorStream(false);
        pb.environment().remove(ServeBanner.KEY_VARIABLE);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.getErrorStream().readAllBytes();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Shell(p.exitValue(), out);
    }

    private static String line(String banner, String prefix) {
        return banner.lines().map(String::strip).filter(l -> l.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("no line starting '" + prefix + "' in:\n" + banner));
    }

    /** The export line with the placeholder replaced by the key, as the user is told to. */
    private static String exportWithKey(String banner) {
        String export = line(banner, "export KVASIR_API_KEY=");
        assertTrue(export.matches("export KVASIR_API_KEY='<[^>]+>'"), export);
        return "export KVASIR_API_KEY='" + KEY + "'";
    }

    @Test
    void pastedCommandsWorkOnceTheKeyIsExported() throws Exception {
        try (KvasirServer server = TestServers.start(TestServers.config().withApiKey(KEY))) {
            String banner = new ServeBanner(server.baseUrl(), server.model().name(), "--api-key", null).text();
            assertFalse(banner.contains(KEY), banner);
            assertTrue(banner.contains("the key given to --api-key"), banner);
            String curl = line(banner, "curl ");
            Shell chat = bash(exportWithKey(banner) + "\n" + curl + " -sS --fail-with-body");
            assertEquals(0, chat.exitCode(), chat.out());
            assertTrue(chat.out().contains("\"chat.completion\""), chat.out());
            String metrics = line(banner, "Metrics: ").substring("Metrics: ".length()).split(" {3}Health: ")[0];
            Shell scrape = bash(exportWithKey(banner) + "\n" + metrics + " -sS --fail-with-body");
            assertEquals(0, scrape.exitCode(), scrape.out());
            assertTrue(scrape.out().contains("vllm:num_requests_running"), scrape.out());
            // What the old banner led to: the variable unset in the user's shell, and a 401.
            Shell unset = bash(curl + " -sS -o /dev/null -w '%{http_code}'");
            assertEquals("401", unset.out());
        }
    }

    @Test
    void overTlsTheCommandTrustsTheServersCertificate(@TempDir Path dir) throws Exception {
        TestCertificates.Issued cert = TestCertificates.issue(dir, TestCertificates.KeyFormat.EC_SEC1);
        ServerConfig tls = TestServers.config().withListener(ListenerConfig.DEFAULTS.withTls(cert.keyFile(), cert.certFile()));
        try (KvasirServer server = TestServers.start(tls)) {
            String banner = new ServeBanner(server.baseUrl(), server.model().name(), null, cert.certFile()).text();
            assertFalse(banner.contains("KVASIR_API_KEY"), "no key, no export: " + banner);
            Shell chat = bash(line(banner, "curl ") + " -sS --fail-with-body");
            assertEquals(0, chat.exitCode(), chat.out());
            assertTrue(chat.out().contains("\"chat.completion\""), chat.out());
        }
    }

    @Test
    void eachKeySourceGetsItsOwnHint() {
        String fromFile = new ServeBanner("http://h:1", "m", "--api-key-file /etc/kvasir/keys", null).text();
        assertTrue(fromFile.contains("export KVASIR_API_KEY='<a key from --api-key-file /etc/kvasir/keys>'"), fromFile);
        String fromEnv = new ServeBanner("http://h:1", "m", "$KVASIR_API_KEY", null).text();
        assertTrue(fromEnv.contains("'<the key the server was started with>'"), fromEnv);
        assertTrue(List.of(new ServeBanner("http://h:1", "m", null, null).text().split("\n")).stream()
                .noneMatch(l -> l.contains("Authorization")));
    }
}
