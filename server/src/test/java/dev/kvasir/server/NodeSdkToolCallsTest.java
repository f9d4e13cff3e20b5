package dev.kvasir.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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
        Path dir = RepositoryFiles.resolve("sdk-tests");
        String missing = ExternalCommand.onPath("node") == null ? "Node.js 20 (node on the PATH)" : ExternalCommand.onPath("npm") == null ? "npm" : null;
        if (missing != null) {
            String reason = "the Node SDK test needs " + missing;
            if (Boolean.getBoolean("kvasir.node.required")) throw new AssertionError(reason);
            assumeTrue(false, reason);
        }
        if (!Files.isDirectory(dir.resolve("node_modules/openai"))) {
            ExternalCommand.Result install = ExternalCommand.run(dir, List.of("npm", "ci", "--no-audit", "--no-fund"), Map.of(), 180);
            assertEquals(0, install.exit(), "npm ci in " + dir + " failed:\n" + install.output());
        }
        try (KvasirServer server = TestServers.start(TestServers.config())) {
            ExternalCommand.Result tests = ExternalCommand.run(dir, List.of("node", "tool-calls.test.mjs"), Map.of("KVASIR_URL", server.baseUrl()), 240);
            Matcher closing = Pattern.compile("(?m)^(\\d+) passed, (\\d+) failed$").matcher(tests.output());
            assertTrue(closing.find(), "the Node SDK checks did not finish:\n" + tests.output());
            assertEquals("0", closing.group(2), "Node SDK checks failed:\n" + tests.output());
            assertEquals("4", closing.group(1), "every check ran:\n" + tests.output());
            assertEquals(0, tests.exit(), tests.output());
        }
    }
}
