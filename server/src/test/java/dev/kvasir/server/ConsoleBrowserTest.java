package dev.kvasir.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
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
 * The web console in a real browser against a real server (API key on, agent memory on SQLite):
 * {@code ui-tests/console.test.mjs} drives headless Chromium (Debian's {@code chromium}) with
 * playwright-core through every scenario in one run: the key dialog, a streamed chat reply, keyboard
 * only use, a memory written and corrected (struck through, the new value injected in the next
 * reply), the KV map following requests and returning to idle, forgetting a user, axe-core on the
 * three views, and no script errors or policy refusals.
 *
 * <p>{@code scripts/test} installs Chromium and runs with {@code -Dkvasir.browser.required=true}, so
 * there a missing browser fails the test; elsewhere it is skipped, saying what to install. The npm
 * packages (pinned in {@code ui-tests/package-lock.json}) are installed here with {@code npm ci} when
 * missing. {@code -Dkvasir.console.screenshots=DIR} also saves the README's screenshots into DIR
 * ({@code scripts/screenshots}).
 */
class ConsoleBrowserTest {

    private static final String KEY = "sk-console-browser-test-0001";
    private static final Path UI_TESTS = repositoryRoot().resolve("ui-tests");
    private static Path dir;
    private static KvasirServer server;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("kvasir-console");
        server = TestServers.start(TestServers.config().withApiKey(KEY).withMemoryStore("sqlite:" + dir.resolve("memory.db")));
    }

    @AfterAll
    static void stop() throws IOException {
        if (server != null) server.close();
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void everyScenarioPassesInHeadlessChromium() throws Exception {
        String chromium = System.getenv().getOrDefault("KVASIR_CHROMIUM", "/usr/bin/chromium");
        boolean required = Boolean.getBoolean("kvasir.browser.required");
        String missing = !Files.isExecutable(Path.of(chromium)) ? "Chromium (" + chromium + "; apt-get install chromium)"
                : onPath("node") == null ? "Node.js 20 (node on the PATH)" : onPath("npm") == null ? "npm" : null;
        if (missing != null) {
            String reason = "the console's browser tests need " + missing + "; scripts/test installs it";
            if (required) throw new AssertionError(reason);
            assumeTrue(false, reason);
        }
        if (!Files.isDirectory(UI_TESTS.resolve("node_modules/playwright-core"))
                || !Files.isDirectory(UI_TESTS.resolve("node_modules/axe-core"))) {
            Run install = run(List.of("npm", "ci", "--no-audit", "--no-fund"), List.of(), 180);
            assertEquals(0, install.exit(), "npm ci in " + UI_TESTS + " failed:\n" + install.output());
        }
        String shots = System.getProperty("kvasir.console.screenshots", "");
        if (!shots.isEmpty()) Files.createDirectories(Path.of(shots));
        Run tests = run(List.of("node", "console.test.mjs"), List.of(
                "KVASIR_URL=" + server.baseUrl(), "KVASIR_KEY=" + KEY, "KVASIR_CHROMIUM=" + chromium,
                "KVASIR_SCREENSHOTS=" + (shots.isEmpty() ? "" : Path.of(shots).toAbsolutePath())), 420);
        System.out.println(tests.output());
        Matcher closing = Pattern.compile("(?m)^(\\d+) passed, (\\d+) failed$").matcher(tests.output());
        assertTrue(closing.find(), "the browser tests did not finish:\n" + tests.output());
        assertEquals("0", closing.group(2), "browser scenarios failed:\n" + tests.output());
        assertTrue(Integer.parseInt(closing.group(1)) >= 8, "every scenario ran:\n" + tests.output());
        assertEquals(0, tests.exit(), tests.output());
    }

    private record Run(int exit, String output) {}

    /** Runs a command in ui-tests with extra environment variables; the output is stdout and stderr together. */
    private static Run run(List<String> command, List<String> env, int timeoutSeconds) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(UI_TESTS.toFile()).redirectErrorStream(true);
        for (String e : env) {
            int eq = e.indexOf('=');
            pb.environment().put(e.substring(0, eq), e.substring(eq + 1));
        }
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
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            reader.join(5000);
            throw new AssertionError(String.join(" ", command) + " ran past " + timeoutSeconds + " s:\n" + out);
        }
        reader.join(10000);
        return new Run(p.exitValue(), out.toString());
    }

    private static Path onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(d, program);
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    /** The checkout's root: the nearest folder up from the working directory that holds ui-tests. */
    private static Path repositoryRoot() {
        for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
            if (Files.isRegularFile(d.resolve("ui-tests/package.json"))) return d;
        }
        throw new IllegalStateException("ui-tests/package.json not found above " + Path.of("").toAbsolutePath());
    }
}
