package dev.kvasir.server;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** A program the tests run beside the server (Node with Playwright or the OpenAI SDK, npm), with a deadline. */
final class ExternalCommand {

    /** Its exit status and what it wrote, stdout and stderr together. */
    record Result(int exit, String output) {}

    private ExternalCommand() {}

    /**
     * Runs {@code command} in {@code dir} with {@code env} added to the environment; past
     * {@code timeoutSeconds} it and its children are killed and the test fails with what it wrote.
     */
    static Result run(Path dir, List<String> command, Map<String, String> env, int timeoutSeconds) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
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
        return new Result(p.exitValue(), out.toString());
    }

    /** The program's path on the PATH, or null. */
    static Path onPath(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(d, program);
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }
}
