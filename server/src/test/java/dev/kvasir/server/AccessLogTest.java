package dev.kvasir.server;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One readable access-log line per request: method, path, status, time, and what was generated. */
class AccessLogTest {

    @Test
    void eachRequestLogsExactlyOneShortLine() throws Exception {
        Logger access = (Logger) LoggerFactory.getLogger("kvasir.access");
        Level before = access.getLevel();
        ListAppender<ILoggingEvent> lines = new ListAppender<>();
        lines.start();
        access.addAppender(lines);
        access.setLevel(Level.INFO);
        try (KvasirServer server = TestServers.start(TestServers.config())) {
            Http.post(server, "/v1/chat/completions", Http.chat("Hello", "\"max_tokens\":3"));
            Http.post(server, "/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":2,\"stream\":true}");
            Http.post(server, "/v1/completions", "{\"model\":\"" + "x\\n".repeat(50_000) + "\",\"prompt\":\"Hi\"}");
            Http.get(server, "/health", null);
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (lines.list.size() < 4 && System.nanoTime() < until) Thread.sleep(10);
            Thread.sleep(100);
            List<String> messages = lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
            assertEquals(4, messages.size(), String.valueOf(messages));
            assertTrue(messages.get(0).matches("POST /v1/chat/completions 200 \\d+ms chatcmpl-[0-9a-f]+ prompt=\\d+ completion=3 cached=\\d+"),
                    messages.get(0));
            assertTrue(messages.get(1).matches("POST /v1/completions 200 \\d+ms cmpl-[0-9a-f]+ prompt=\\d+ completion=2 cached=\\d+ stream"),
                    messages.get(1));
            assertTrue(messages.get(2).startsWith("POST /v1/completions 404 "), messages.get(2));
            assertTrue(messages.get(3).matches("GET /health 200 \\d+ms"), messages.get(3));
            for (String m : messages) assertTrue(m.length() < 400 && !m.contains("\n"), "one short line: " + m);
        } finally {
            access.detachAppender(lines);
            access.setLevel(before);
        }
    }
}
