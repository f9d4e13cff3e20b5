package dev.kvasir.server;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.StackTraceElementProxy;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Everything a real server logs (every logger, the access log included, messages and stack traces)
 * while requests with an API key and a recognisable message run, failing ones included: neither
 * the key nor the message text appears.
 */
class LogSecrecyTest {

    private static final String KEY = "sk-secret-7f3a9c2e1b";
    private static final String TEXT = "zebra-marmalade-4471";

    @Test
    void neitherKeysNorMessageTextReachTheLog() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        Logger access = (Logger) LoggerFactory.getLogger("kvasir.access");
        Logger ours = (Logger) LoggerFactory.getLogger("dev.kvasir");
        Level accessLevel = access.getLevel();
        Level oursLevel = ours.getLevel();
        ListAppender<ILoggingEvent> log = new ListAppender<>();
        log.start();
        root.addAppender(log);
        access.setLevel(Level.INFO);
        ours.setLevel(Level.DEBUG);
        List<Integer> statuses = new ArrayList<>();
        try (KvasirServer server = TestServers.start(TestServers.config().withApiKey(KEY))) {
            String chat = "/v1/chat/completions";
            String user = "{\"role\":\"user\",\"content\":\"" + TEXT + "\"}";
            List<String[]> requests = List.of(
                    new String[] {chat, Http.chat(TEXT, "\"max_tokens\":4"), KEY},
                    new String[] {chat, Http.chat(TEXT, "\"max_tokens\":4,\"stream\":true"), KEY},
                    new String[] {"/v1/completions", "{\"prompt\":\"" + TEXT + "\",\"max_tokens\":4,\"logprobs\":2}", KEY},
                    new String[] {"/tokenize", "{\"prompt\":\"" + TEXT + "\"}", KEY},
                    new String[] {chat, Http.chat(TEXT, "\"max_tokens\":4"), "sk-wrong-" + TEXT},
                    new String[] {chat, Http.chat(TEXT, "\"max_tokens\":4"), null},
                    new String[] {chat, "{\"messages\":[" + user, KEY},                                       // truncated JSON
                    new String[] {chat, "{\"messages\":[{\"role\":\"" + TEXT + "\",\"content\":\"hi\"}]}", KEY}, // bad role
                    new String[] {chat, "{\"messages\":[" + user + ",{\"role\":\"assistant\",\"tool_calls\":[{\"type\":\"function\","
                            + "\"function\":{\"name\":\"f\",\"arguments\":\"" + TEXT + "\"}}]}]}", KEY},         // bad tool arguments
                    new String[] {chat, "{\"model\":\"" + TEXT + "\",\"messages\":[" + user + "]}", KEY},       // unknown model
                    new String[] {chat, Http.chat((TEXT + " ").repeat(400), "\"max_tokens\":4"), KEY},          // too long
                    new String[] {chat, Http.chat(TEXT, "\"temperature\":\"" + TEXT + "\""), KEY},             // wrong type
                    new String[] {chat, Http.chat(TEXT, "\"stop\":[\"" + TEXT.repeat(20) + "\"]"), KEY});       // stop too long
            for (String[] r : requests) {
                HttpResponse<String> response = Http.post(server, r[0], r[1], r[2]);
                statuses.add(response.statusCode());
            }
            statuses.add(Http.get(server, "/metrics", KEY).statusCode());
            statuses.add(Http.get(server, "/v1/models?key=" + KEY, KEY).statusCode());
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (accessLines(log) < statuses.size() && System.nanoTime() < until) Thread.sleep(20);
        } finally {
            root.detachAppender(log);
            access.setLevel(accessLevel);
            ours.setLevel(oursLevel);
        }
        assertEquals(List.of(200, 200, 200, 200, 401, 401, 400, 400, 400, 404, 400, 400, 400, 200, 200), statuses);
        List<String> everything = new ArrayList<>();
        synchronized (log) { // AppenderBase.doAppend adds under the appender's lock, not the list's
            for (ILoggingEvent e : log.list) {
                everything.add(e.getLoggerName() + " " + e.getFormattedMessage());
                for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
                    everything.add(t.getClassName() + ": " + t.getMessage());
                    for (StackTraceElementProxy frame : t.getStackTraceElementProxyArray()) everything.add(frame.getSTEAsString());
                }
            }
        }
        assertTrue(accessLines(log) >= statuses.size(), "the access log saw every request: " + everything);
        for (String line : everything) {
            assertFalse(line.contains(KEY), "the API key in the log: " + line);
            assertFalse(line.contains(TEXT), "message text in the log: " + line);
        }
    }

    private static long accessLines(ListAppender<ILoggingEvent> log) {
        synchronized (log) { // AppenderBase.doAppend adds under the appender's lock, not the list's
            return log.list.stream().filter(e -> e.getLoggerName().equals("kvasir.access")).count();
        }
    }
}
