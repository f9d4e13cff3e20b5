package dev.kvasir.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The official OpenAI Node SDK ({@code openai}, pinned in {@code sdk-tests/package-lock.json})
 * against the real server on stories260K: {@code sdk-tests/tool-calls.test.mjs} checks
 * tool_choice required, named and auto, and a stream put together by the SDK's own helper.
 * Skipped where node or npm is missing, unless {@code -Dkvasir.node.required=true}; the npm package
 * is installed with {@code npm ci} when missing (the registry must be reachable once).
 */
class NodeSdkToolCallsTest {

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void nodeSdkReadsToolCalls() throws Exception {
        Path dir = sdkTests();
        String missing = onPath("node") ? onPath("npm") ? null : "npm" : "Node.js 20 (node on the PATH)";
        if (missing != null) {
            String reason = "the Node SDK test needs " + missing;
            if (Boolean.getBoolean("kvasir.node.required")) throw new AssertionError(reason);
            assumeTrue(false, reason);
        }
        if (!Files.isDirectory(dir.resolve("node_modules/openai"))) {
            Run install = run(dir, List.of("npm", "ci", "--no-audit", "--no-fund"), null, 180);
            assertEquals(0, install.exit(), "npm ci in " + dir + " failed:\n" + install.output());
        }
        try (KvasirServer server = TestServers.start(TestServers.config())) {
            Run tests = run(dir, List.of("node", "tool-calls.test.mjs"), server.baseUrl(), 240);
            Matcher closing = Pattern.compile("(?m)^(\\d+) passed, (\\d+) failed$").matcher(tests.output());
            assertTrue(closing.find(), "the Node SDK checks did not finish:\n" + tests.output());
            assertEquals("0", closing.group(2), "Node SDK checks failed:\n" + tests.output());
            assertEquals("4", closing.group(1), "every check ran:\n" + tests.output());
            assertEquals(0, tests.exit(), tests.output());
        }
    }

    private record Run(int exit, String output) {}

    /** Runs {@code command} in {@code dir} (KVASIR_URL set when url is not null); stdout and stderr together. */
    private static Run run(Path dir, List<String> command, String url, int timeoutSeconds) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        if (url != null) pb.environment().put("KVASIR_URL", url);
        Process p = pb.start();
        StringBuilder out = new StringBuilder();
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                out.append(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                out.append("(output lost: ").append(e).append(")");
            }
        });
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            reader.join(5000);
            throw new AssertionError(command + " ran past " + timeoutSeconds + " s:\n" + out);
        }
        reader.join(5000);
        return new Run(p.exitValue(), out.toString());
    }

    private static boolean onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(d, program))) return true;
        }
        return false;
    }

    private static Path sdkTests() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("sdk-tests/package.json"))) return d.resolve("sdk-tests");
        }
        throw new IllegalStateException("sdk-tests/package.json not found above " + Path.of("").toAbsolutePath());
    }
}
