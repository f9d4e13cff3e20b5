package dev.kvasir.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvasir.memory.store.PostgresTestServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code deploy/nginx/kvasir.conf} in front of three real replicas sharing one real PostgreSQL
 * memory store, all on loopback: a user's session stays on one replica (its prefix-cache hits are
 * there, the other replicas see none of it), {@code kill -9} of that replica moves the user to
 * another with no acknowledged memory lost and no failed request beyond the one in flight, and the
 * restarted replica gets its user back. nginx runs from the repository's file, with only the
 * addresses, the listen port, the log path and fail_timeout rewritten; stopped by PID.
 */
class ReplicasBehindNginxTest {

    private static final String USER = "ada";
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final Pattern UPSTREAM = Pattern.compile(" upstream=\"([^\"]*)\"");
    private static final String SYSTEM = "You are a storyteller for small children. Every story has a dog, a cat and a"
            + " red ball, and ends happily in the garden behind the old house.";

    @Test
    void aUsersSessionStaysOnOneReplicaMovesWhenItDiesAndComesBack(@TempDir Path dir) throws Exception {
        Path nginx = nginxBinary();
        assumeTrue(nginx != null, "no nginx binary on this machine (apt-get install nginx-light; .ci/run and scripts/test"
                + " install it): the replica routing test needs a real nginx");
        String store = PostgresTestServer.shared().newDatabase();
        List<ServerProcess> replicas = new ArrayList<>();
        Nginx router = null;
        try {
            startTogether(dir, store, replicas);
            Nginx front = Nginx.start(nginx, dir, replicas.stream().map(ServerProcess::port).toList());
            router = front;

            // 1. A session of four turns and some memories: every request on one replica, its prefix cache hit.
            ArrayNode messages = Http.JSON.createArrayNode();
            messages.addObject().put("role", "system").put("content", SYSTEM);
            List<String> acknowledged = new ArrayList<>();
            for (int turn = 0; turn < 4; turn++) {
                chatTurn(router, messages, "Tell me part " + turn + " of the story.");
                acknowledged.add(remember(router, "Ada's favourite number is " + turn));
            }
            Set<Integer> used = router.upstreamPorts(0);
            assertEquals(1, used.size(), "one user's requests all go to one replica: " + used);
            int homePort = used.iterator().next();
            ServerProcess home = replicas.stream().filter(r -> r.port() == homePort).findFirst().orElseThrow();
            assertTrue(prefixHits(home) > 0, "the session's later turns hit the prefix cache of its replica");
            for (ServerProcess r : replicas) {
                if (r != home) assertEquals(0, promptTokens(r), "a replica the user was not routed to saw no prompt of theirs");
            }

            // 2. kill -9 the user's replica while a writer keeps storing memories through nginx.
            int logLine = router.accessLogLines();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger failed = new AtomicInteger();
            List<String> written = new ArrayList<>();
            CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                for (int i = 0; !stop.get(); i++) {
                    try {
                        String id = remember(front, "Ada's memory number " + i + " written during the failover");
                        synchronized (written) {
                            written.add(id);
                        }
                    } catch (Exception | AssertionError e) {
                        failed.incrementAndGet();
                    }
                }
            });
            waitFor(() -> size(written) >= 5, "five memories written before the kill");
            home.kill();
            waitFor(() -> size(written) >= 25, "twenty more memories written through nginx after the kill");
            stop.set(true);
            writer.get(60, TimeUnit.SECONDS);
            assertTrue(failed.get() <= 1, failed.get() + " writes failed; only the one in flight at the kill may");
            for (int turn = 4; turn < 6; turn++) chatTurn(router, messages, "Tell me part " + turn + " of the story.");
            Set<Integer> after = router.upstreamPorts(logLine);
            after.remove(homePort); // the writer's request in flight at the kill, and nginx's retry of the dead replica
            assertEquals(1, after.size(), "after the kill the user moved to one other replica: " + after);
            acknowledged.addAll(written);

            // 3. The replica restarts on its port; after fail_timeout nginx tries it again and the user is back.
            replicas.set(replicas.indexOf(home), ServerProcess.start(dir, homePort, "--memory-store", store));
            ServerProcess restarted = replicas.stream().filter(r -> r.port() == homePort).findFirst().orElseThrow();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            int back = router.accessLogLines();
            while (true) {
                back = router.accessLogLines();
                chatTurn(router, messages, "And then?");
                if (router.upstreamPorts(back).equals(Set.of(homePort))) break;
                assertTrue(System.nanoTime() < deadline, "the restarted replica did not get its user back within 20 s");
                Thread.sleep(500);
            }
            chatTurn(router, messages, "How does it end?");
            assertEquals(Set.of(homePort), router.upstreamPorts(back), "the user stays on the rejoined replica");
            assertTrue(prefixHits(restarted) > 0, "the rejoined replica serves the session again, its prefix cache hit");

            // 4. Every acknowledged memory is there, read through nginx (the rejoined replica, on the shared store).
            for (String id : acknowledged) {
                HttpResponse<String> r = send(router.request("/v1/memories/" + id + "?user=" + USER).GET());
                assertEquals(200, r.statusCode(), "acknowledged memory " + id + " was lost: " + r.body());
            }
        } finally {
            if (router != null) router.close();
            for (ServerProcess r : replicas) r.close();
        }
    }

    /** Three replicas started at once (a JVM's start is mostly waiting on one core); all of them or an error. */
    private static void startTogether(Path dir, String store, List<ServerProcess> replicas) throws Exception {
        List<CompletableFuture<ServerProcess>> starting = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            starting.add(CompletableFuture.supplyAsync(() -> {
                try {
                    return ServerProcess.start(dir, "--memory-store", store);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }));
        }
        Exception failure = null;
        for (CompletableFuture<ServerProcess> f : starting) {
            try {
                replicas.add(f.get(180, TimeUnit.SECONDS));
            } catch (Exception e) {
                if (failure == null) failure = e;
            }
        }
        if (failure != null) throw failure; // the caller closes those that started
    }

    /** One turn of the session: the whole conversation so far, the answer appended to it. */
    private static void chatTurn(Nginx router, ArrayNode messages, String question) throws Exception {
        messages.addObject().put("role", "user").put("content", question);
        ObjectNode body = Http.JSON.createObjectNode().put("model", "stories260K").put("max_tokens", 8).put("ignore_eos", true)
                .put("user", USER);
        body.set("messages", messages);
        HttpResponse<String> r = send(router.request("/v1/chat/completions").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())));
        assertEquals(200, r.statusCode(), r.body());
        messages.addObject().put("role", "assistant").put("content", Http.json(r.body()).at("/choices/0/message/content").asText());
    }

    /** Stores a memory through nginx; its id once acknowledged (201). */
    private static String remember(Nginx router, String content) throws Exception {
        HttpResponse<String> r = send(router.request("/v1/memories").header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"user\":\"" + USER + "\",\"content\":" + Http.quote(content) + "}")));
        if (r.statusCode() != 201) throw new AssertionError("memory write answered " + r.statusCode() + ": " + r.body());
        return Http.json(r.body()).get("id").asText();
    }

    private static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return HTTP.send(request.timeout(Duration.ofSeconds(60)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static double prefixHits(ServerProcess s) throws Exception {
        return MetricsTest.sample(metrics(s), "vllm:prefix_cache_hits_total", "");
    }

    private static double promptTokens(ServerProcess s) throws Exception {
        return MetricsTest.sample(metrics(s), "vllm:prompt_tokens_total", "");
    }

    private static String metrics(ServerProcess s) throws Exception {
        return send(HttpRequest.newBuilder(URI.create(s.baseUrl() + "/metrics")).GET()).body();
    }

    private static int size(List<String> list) {
        synchronized (list) {
            return list.size();
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier done, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.sleep(20);
        }
    }

    /** nginx on PATH or where Debian puts it; null when there is none. */
    private static Path nginxBinary() {
        Stream<Path> candidates = Stream.concat(
                Stream.of(System.getenv().getOrDefault("PATH", "").split(":")).filter(p -> !p.isEmpty()).map(p -> Path.of(p, "nginx")),
                Stream.of(Path.of("/usr/sbin/nginx")));
        return candidates.filter(Files::isExecutable).findFirst().orElse(null);
    }

    /** nginx (master and one worker) running {@code deploy/nginx/kvasir.conf} over {@code ports}. */
    private static final class Nginx implements AutoCloseable {
        private final Process process;
        private final int port;
        private final Path accessLog;

        private Nginx(Process process, int port, Path accessLog) {
            this.process = process;
            this.port = port;
            this.accessLog = accessLog;
        }

        static Nginx start(Path binary, Path dir, List<Integer> replicaPorts) throws IOException, InterruptedException {
            Path home = Files.createDirectories(dir.resolve("nginx"));
            int port = ServerProcess.freePort();
            Path accessLog = home.resolve("access.log");
            String conf = Files.readString(RepositoryFiles.resolve("deploy/nginx/kvasir.conf"));
            StringBuilder servers = new StringBuilder();
            for (int p : replicaPorts) servers.append("    server 127.0.0.1:").append(p).append(" max_fails=1 fail_timeout=2s;\n");
            String site = conf.replaceAll("(?m)^    server \\S+ max_fails=1 fail_timeout=10s;\\n", "")
                    .replace("    keepalive 32;", servers + "    keepalive 32;")
                    .replace("listen 8080;", "listen 127.0.0.1:" + port + ";")
                    .replace("/var/log/nginx/kvasir.log", accessLog.toString());
            assertTrue(site.contains("server 127.0.0.1:" + replicaPorts.get(0)) && !site.contains("10.0.0.11")
                    && site.contains("listen 127.0.0.1:" + port) && site.contains(accessLog.toString()),
                    "deploy/nginx/kvasir.conf no longer has the lines this test rewrites:\n" + site);
            Files.writeString(home.resolve("kvasir.conf"), site);
            String tmp = home.resolve("tmp").toString();
            // As root the workers would run as nobody, who cannot enter the test's folder.
            String main = (System.getProperty("user.name").equals("root") ? "user root;\n" : "")
                    + "daemon off;\nworker_processes 1;\npid " + home.resolve("nginx.pid") + ";\nerror_log " + home.resolve("error.log")
                    + " info;\nevents { worker_connections 256; }\nhttp {\n"
                    + "    client_body_temp_path " + tmp + "/body;\n    proxy_temp_path " + tmp + "/proxy;\n"
                    + "    fastcgi_temp_path " + tmp + "/fastcgi;\n    uwsgi_temp_path " + tmp + "/uwsgi;\n"
                    + "    scgi_temp_path " + tmp + "/scgi;\n    include " + home.resolve("kvasir.conf") + ";\n}\n";
            Files.createDirectories(home.resolve("tmp"));
            Path mainConf = Files.writeString(home.resolve("nginx.conf"), main);
            Process p = new ProcessBuilder(binary.toString(), "-p", home.toString(), "-e", home.resolve("error.log").toString(),
                    "-c", mainConf.toString()).redirectErrorStream(true).redirectOutput(home.resolve("stdout.log").toFile()).start();
            Nginx nginx = new Nginx(p, port, accessLog);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (true) {
                if (!p.isAlive()) {
                    throw new IllegalStateException("nginx exited with " + p.exitValue() + ":\n" + Files.readString(home.resolve("error.log")));
                }
                try (Socket s = new Socket("127.0.0.1", port)) {
                    return nginx;
                } catch (IOException e) {
                    if (System.nanoTime() > deadline) {
                        nginx.close();
                        throw new IllegalStateException("nginx did not listen on " + port + " within 30 s", e);
                    }
                    Thread.sleep(50);
                }
            }
        }

        HttpRequest.Builder request(String path) {
            return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).header("X-Kvasir-User", USER);
        }

        int accessLogLines() throws IOException {
            return Files.exists(accessLog) ? Files.readAllLines(accessLog).size() : 0;
        }

        /** The replica ports that answered requests logged from line {@code from} on (every upstream nginx tried). */
        Set<Integer> upstreamPorts(int from) throws IOException {
            Set<Integer> ports = new TreeSet<>();
            List<String> lines = Files.readAllLines(accessLog);
            for (String line : lines.subList(Math.min(from, lines.size()), lines.size())) {
                Matcher m = UPSTREAM.matcher(line);
                if (!m.find()) throw new AssertionError("an access log line without upstream: " + line);
                // "127.0.0.1:P1, 127.0.0.1:P2" when nginx tried more than one replica.
                for (String addr : m.group(1).split(",\\s*")) ports.add(Integer.parseInt(addr.substring(addr.lastIndexOf(':') + 1)));
            }
            return ports;
        }

        /** SIGTERM by PID: nginx's fast shutdown of the master and its worker. */
        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
