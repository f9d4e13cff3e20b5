package dev.kvasir.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * After hostile load the server gives its memory back: a server process (the launcher's JVM
 * flags, no -Xmx) serves small requests until its resident set settles, then three clients post
 * 8 MB prompts without pause beside the small requests; once they stop, the resident set must come
 * back to within 10% of where it settled. Before, it grew by hundreds of megabytes and stayed.
 */
class HostileRssTest {
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final String SMALL = "{\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"temperature\":0}";

    @TempDir
    Path dir;

    @Test
    void residentMemoryReturnsAfterOversizedBodies() throws Exception {
        assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "reads the resident set from /proc (Linux only)");
        try (ServerProcess server = ServerProcess.startWithLauncherFlags(dir, "--memory-store", "none");
                ExecutorService clients = Executors.newFixedThreadPool(4)) {
            for (int i = 0; i < 60; i++) assertEquals(200, post(server, SMALL).statusCode());
            long settled = settledRss(server);

            String huge = "{\"prompt\":\"" + "word ".repeat(1_600_000) + "\",\"max_tokens\":4}";
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger hostile = new AtomicInteger();
            List<CompletableFuture<Void>> senders = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                senders.add(CompletableFuture.runAsync(() -> {
                    while (!stop.get()) {
                        int status = post(server, huge).statusCode();
                        assertTrue(status == 400 || status == 503, "an 8 MB prompt answered " + status);
                        hostile.incrementAndGet();
                    }
                }, clients));
            }
            long peak = 0;
            long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (System.nanoTime() < until) {
                assertEquals(200, post(server, SMALL).statusCode());
                peak = Math.max(peak, rss(server));
            }
            stop.set(true);
            for (CompletableFuture<Void> f : senders) f.join();
            assertTrue(hostile.get() >= 6, "only " + hostile.get() + " oversized bodies were sent");
            for (int i = 0; i < 20; i++) assertEquals(200, post(server, SMALL).statusCode());

            // Give the collector and the allocator's trimming their time, as an idle server would have.
            long after = Long.MAX_VALUE;
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline && after > settled * 1.10) {
                Thread.sleep(1000);
                after = rss(server);
            }
            String figures = String.format("resident set settled at %d MiB, peaked at %d MiB under %d oversized bodies, %d MiB after",
                    settled >> 20, peak >> 20, hostile.get(), after >> 20);
            System.out.println("HostileRssTest: " + figures);
            assertTrue(after <= settled * 1.10, figures);
        }
    }

    /** RSS once two readings a second apart differ by under 2% (at most 20 s). */
    private static long settledRss(ServerProcess server) throws Exception {
        long last = rss(server);
        for (int i = 0; i < 20; i++) {
            Thread.sleep(1000);
            long now = rss(server);
            if (Math.abs(now - last) < last / 50) return now;
            last = now;
        }
        return last;
    }

    private static long rss(ServerProcess server) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + server.pid() + "/status"))) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
        throw new IllegalStateException("no VmRSS for process " + server.pid());
    }

    private static HttpResponse<String> post(ServerProcess server, String body) {
        try {
            return HTTP.send(HttpRequest.newBuilder(URI.create(server.baseUrl() + "/v1/completions"))
                    .header("Content-Type", "application/json").timeout(Duration.ofSeconds(120))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
