package dev.kvasir.server;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.kvasir.server.api.ApiKeys;
import dev.kvasir.server.cli.KvasirCliAccess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --api-key-file on a real server: each key's tenant is the request's (the access log names it),
 * SIGHUP reads the file again, a bad file is refused at start and ignored (with an error) on reload.
 */
class ApiKeyFileTest {

    private static final String ACME = "sk-acme-0123456789abcdef";
    private static final String GLOBEX = "sk-globex-5555aaaa5555";
    private static final String INITECH = "sk-initech-77778888";
    private static final String CHAT = Http.chat("Hello", "\"max_tokens\":2");

    private static int status(KvasirServer server, String key) {
        return Http.post(server, "/v1/chat/completions", CHAT, key).statusCode();
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > until) throw new AssertionError("not within 10 s: " + what);
            Thread.sleep(20);
        }
    }

    @Test
    void tenantsComeFromTheKeyAndSighupReloadsTheFile(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("keys"), "acme " + ACME + "\nglobex " + GLOBEX + "\n");
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger access = (Logger) LoggerFactory.getLogger("kvasir.access");
        Level accessLevel = access.getLevel();
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        root.addAppender(log);
        access.setLevel(Level.INFO);
        ServerConfig config = TestServers.config().withApiKey("sk-single-key").withListener(ListenerConfig.DEFAULTS.withApiKeyFile(file));
        try (KvasirServer server = TestServers.start(config)) {
            assertEquals(200, status(server, ACME));
            assertEquals(200, status(server, GLOBEX));
            assertEquals(200, status(server, "sk-single-key"));
            assertEquals(401, status(server, INITECH));
            assertEquals(401, status(server, null));
            await("four access lines", () -> lines(log, "kvasir.access").size() >= 5);
            List<String> tenants = lines(log, "kvasir.access").stream()
                    .map(l -> l.contains(" tenant=") ? l.substring(l.indexOf(" tenant=") + 8).split(" ")[0] : "-").toList();
            assertEquals(List.of("acme", "globex", "default", "-", "-"), tenants.subList(0, 5), lines(log, "kvasir.access").toString());

            // Rotation: globex leaves, initech joins; SIGHUP to this very process.
            org.junit.jupiter.api.Assumptions.assumeFalse(sighupIgnored(),
                    "this JVM started with SIGHUP ignored (nohup), so no reload signal can reach it");
            Files.writeString(file, "acme " + ACME + "\ninitech " + INITECH + "\n");
            hangup();
            await("initech's key accepted after SIGHUP", () -> status(server, INITECH) == 200);
            assertEquals(401, status(server, GLOBEX));
            assertEquals(200, status(server, ACME));

            // A broken file on reload: the keys in force stay, and the error names file and line.
            Files.writeString(file, "acme " + ACME + "\nthis line is wrong\n");
            hangup();
            await("the reload error", () -> lines(log, ApiKeys.class.getName()).stream().anyMatch(l -> l.contains("NOT reloaded")));
            String error = lines(log, ApiKeys.class.getName()).stream().filter(l -> l.contains("NOT reloaded")).findFirst().orElseThrow();
            assertTrue(error.contains(file + ":2"), error);
            assertEquals(200, status(server, INITECH));
            for (String line : lines(log, null)) {
                assertFalse(line.contains(ACME) || line.contains(INITECH) || line.contains(GLOBEX), "a key in the log: " + line);
            }
        } finally {
            root.detachAppender(log);
            access.setLevel(accessLevel);
        }
    }

    private static List<String> lines(ListAppender<ILoggingEvent> log, String logger) {
        synchronized (log) { // AppenderBase.doAppend adds under the appender's lock, not the list's
            return log.list.stream().filter(e -> logger == null || e.getLoggerName().equals(logger))
                    .map(ILoggingEvent::getFormattedMessage).toList();
        }
    }

    /** Bit 0 of SigIgn in /proc/self/status: SIGHUP (signal 1) was ignored when this process started. */
    private static boolean sighupIgnored() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("SigIgn:")) return (Long.parseUnsignedLong(line.substring(7).trim(), 16) & 1) != 0;
        }
        return false;
    }

    private static void hangup() throws Exception {
        Process kill = new ProcessBuilder("kill", "-HUP", String.valueOf(ProcessHandle.current().pid())).inheritIO().start();
        assertEquals(0, kill.waitFor());
    }

    @Test
    void aMalformedKeyFileStopsTheStartNamingFileAndLine(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("keys"), "# keys\nacme " + ACME + "\nglobex\n");
        ServerConfig config = TestServers.config().withListener(ListenerConfig.DEFAULTS.withApiKeyFile(file));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KvasirServer.start(config));
        assertTrue(e.getMessage().startsWith(file + ":3: "), e.getMessage());
        KvasirCliAccess.Result cli = KvasirCliAccess.run("serve", "--model", TestServers.model().toString(), "--port", "0",
                "--api-key-file", file.toString());
        assertEquals(1, cli.exitCode(), cli.err());
        assertTrue(cli.err().startsWith("kvasir serve: " + file + ":3: "), cli.err());
        assertFalse(cli.err().contains(ACME), cli.err());
    }
}
