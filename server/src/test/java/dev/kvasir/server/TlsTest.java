package dev.kvasir.server;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --ssl-keyfile / --ssl-certfile with self-signed certificates the clients are told to trust. */
class TlsTest {

    private static final String KEY = "sk-tls-test-0123456789";

    @Test
    void theOpenAiSdkTalksToTheServerOverTls(@TempDir Path dir) throws Exception {
        TestCertificates.Issued cert = TestCertificates.issue(dir, TestCertificates.KeyFormat.RSA_PKCS8);
        ServerConfig config = TestServers.config().withApiKey(KEY)
                .withListener(ListenerConfig.DEFAULTS.withTls(cert.keyFile(), cert.certFile()));
        try (KvasirServer server = TestServers.start(config)) {
            assertTrue(server.baseUrl().startsWith("https://127.0.0.1:"), server.baseUrl());
            OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(server.baseUrl() + "/v1").apiKey(KEY)
                    .sslSocketFactory(cert.sslContext().getSocketFactory()).trustManager(cert.trustManager())
                    .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
            try {
                ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder()
                        .model(TestServers.MODEL_NAME).addUserMessage("Tell me a story").maxCompletionTokens(8).temperature(0).build());
                assertEquals(8, c.usage().orElseThrow().completionTokens());
                assertTrue(!c.choices().getFirst().message().content().orElseThrow().isEmpty());
            } finally {
                client.close();
            }
            // A client that trusts only the usual authorities refuses the self-signed certificate.
            HttpClient untrusting = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            assertThrows(IOException.class, () -> untrusting.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/health"))
                    .build(), HttpResponse.BodyHandlers.ofString()));
            // Plain HTTP gets no HTTP answer on the TLS port (the connection closes, or resets).
            try {
                TestServers.Raw plain = TestServers.get(server.port(), "/health");
                assertEquals(-1, plain.status(), plain.headers());
            } catch (IOException reset) {
                // no answer either
            }
        }
    }

    @Test
    void pkcs1RsaAndEcKeysAreReadToo(@TempDir Path dir) throws Exception {
        for (TestCertificates.KeyFormat format : new TestCertificates.KeyFormat[] {
                TestCertificates.KeyFormat.RSA_PKCS1, TestCertificates.KeyFormat.EC_SEC1}) {
            TestCertificates.Issued cert = TestCertificates.issue(dir, format);
            String pem = Files.readString(cert.keyFile());
            assertTrue(pem.startsWith(format == TestCertificates.KeyFormat.EC_SEC1 ? "-----BEGIN EC PRIVATE KEY-----"
                    : "-----BEGIN RSA PRIVATE KEY-----"), pem.lines().findFirst().orElse(""));
            ServerConfig config = TestServers.config().withListener(ListenerConfig.DEFAULTS.withTls(cert.keyFile(), cert.certFile()));
            try (KvasirServer server = TestServers.start(config)) {
                HttpClient client = HttpClient.newBuilder().sslContext(cert.sslContext()).version(HttpClient.Version.HTTP_1_1).build();
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/completions"))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"Once upon a time\",\"max_tokens\":4}")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), format + ": " + r.body());
            }
        }
    }

    @Test
    void unusableTlsFilesStopTheStartNamingTheFlag(@TempDir Path dir) throws Exception {
        TestCertificates.Issued cert = TestCertificates.issue(dir, TestCertificates.KeyFormat.RSA_PKCS8);
        Path notAKey = Files.writeString(dir.resolve("not-a-key.pem"), "hello\n");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> KvasirServer.start(
                TestServers.config().withListener(ListenerConfig.DEFAULTS.withTls(notAKey, cert.certFile()))));
        assertTrue(bad.getMessage().contains("--ssl-keyfile " + notAKey), bad.getMessage());
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> KvasirServer.start(
                TestServers.config().withListener(ListenerConfig.DEFAULTS.withTls(cert.keyFile(), dir.resolve("absent.pem")))));
        assertTrue(missing.getMessage().startsWith("--ssl-certfile ") && missing.getMessage().contains("no such file"),
                missing.getMessage());
        IllegalArgumentException half = assertThrows(IllegalArgumentException.class,
                () -> ListenerConfig.DEFAULTS.withTls(cert.keyFile(), null));
        assertTrue(half.getMessage().contains("give both or neither"), half.getMessage());
    }
}
