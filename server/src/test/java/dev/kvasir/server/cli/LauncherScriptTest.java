package dev.kvasir.server.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * scripts/lib/env.sh's build check, run by bash on a tree laid out like ours, with a stand-in
 * {@code mvn} that logs its arguments: what counts as changed, that CPU builds skip the CUDA
 * fatbin, and that two launches at once build once.
 */
class LauncherScriptTest {

    private static final Path ENV_SH = Path.of("..", "scripts", "lib", "env.sh").toAbsolutePath().normalize();

    @TempDir
    Path root;
    private Path log;

    @BeforeEach
    void layOutTree() throws IOException {
        Files.createDirectories(root.resolve("scripts/lib"));
        Files.copy(ENV_SH, root.resolve("scripts/lib/env.sh"));
        Files.writeString(root.resolve("pom.xml"), "<project/>");
        for (String module : List.of("server", "bench", "native")) {
            Files.createDirectories(root.resolve(module + "/src/main/java"));
            Files.writeString(root.resolve(module + "/pom.xml"), "<project/>");
        }
        Files.writeString(root.resolve("server/src/main/java/A.java"), "class A {}");
        Files.createDirectories(root.resolve("native/src"));
        Files.writeString(root.resolve("native/src/k.cu"), "");
        // The stand-in mvn: logs its arguments, takes a second like a build would, and makes the jars.
        Path bin = Files.createDirectories(root.resolve("bin"));
        log = root.resolve("mvn.log");
        Files.writeString(bin.resolve("mvn"), """
                #!/usr/bin/env bash
                echo "$*" >> "%s"
                sleep 1
                mkdir -p server/target bench/target
                touch server/target/kvasir-server-0.1.0-SNAPSHOT.jar bench/target/kvasir-bench-0.1.0-SNAPSHOT.jar
                """.formatted(log));
        bin.resolve("mvn").toFile().setExecutable(true);
    }

    /** Sources env.sh from the tree and runs {@code command}; returns the exit code. */
    private int bash(String command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c",
                "set -euo pipefail; source scripts/lib/env.sh; " + command).directory(root.toFile())
                .redirectErrorStream(true).redirectOutput(Files.createTempFile(root, "bash", ".out").toFile());
        pb.environment().put("PATH", root.resolve("bin") + ":" + System.getenv("PATH"));
        Process p = pb.start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "bash did not finish");
        return p.exitValue();
    }

    private List<String> builds() throws IOException {
        return Files.exists(log) ? Files.readAllLines(log, StandardCharsets.UTF_8) : List.of();
    }

    private void touchLater(String file) throws IOException {
        Path p = root.resolve(file);
        Files.createDirectories(p.getParent());
        if (!Files.exists(p)) Files.writeString(p, "");
        Files.setLastModifiedTime(p, FileTime.from(Instant.now().plusSeconds(5)));
    }

    @Test
    void onlyPomsAndSrcMainCountAsChanges() throws Exception {
        assertEquals(0, bash("kvasir_build_if_needed cpu"));
        assertEquals(1, builds().size(), "no jars yet: one build");
        assertTrue(builds().getFirst().contains("-DskipTests") && builds().getFirst().contains("-Dkvasir.fatbin.skip=true"),
                "a CPU build neither runs tests nor waits for nvcc: " + builds());
        assertEquals(0, bash("kvasir_up_to_date cpu"));

        // What the old check tripped on: generated sources under target/ are outputs, not inputs.
        touchLater("bench/target/generated-sources/annotations/Gen.java");
        touchLater("server/src/test/java/SomeTest.java");
        touchLater("README.md");
        assertEquals(0, bash("kvasir_up_to_date cpu"));
        assertEquals(0, bash("kvasir_build_if_needed cpu"));
        assertEquals(1, builds().size());

        touchLater("server/src/main/java/A.java");
        assertEquals(1, bash("kvasir_up_to_date cpu"));
        assertEquals(0, bash("kvasir_build_if_needed cpu"));
        assertEquals(2, builds().size());

        Files.createFile(root.resolve("bench/src/main/java/New.java"));
        Files.setLastModifiedTime(root.resolve("bench/src/main/java"), FileTime.from(Instant.now().plusSeconds(10)));
        assertEquals(1, bash("kvasir_up_to_date cpu"), "a new file changes its directory's time");
        touchLater("pom.xml");
        assertEquals(1, bash("kvasir_up_to_date cpu"));
    }

    @Test
    void cudaAfterACpuBuildBuildsTheFatbinOnce() throws Exception {
        assertEquals(0, bash("kvasir_build_if_needed cpu"));
        assertEquals(1, bash("kvasir_up_to_date cuda"), "a CPU build has no fatbin");
        assertEquals(0, bash("kvasir_build_if_needed cuda"));
        assertFalse(builds().get(1).contains("fatbin.skip"), builds().get(1));
        assertEquals(0, bash("kvasir_up_to_date cuda"));
        assertEquals(0, bash("kvasir_up_to_date cpu"), "the CUDA build serves the CPU too");
        touchLater("native/src/k.cu");
        assertEquals(1, bash("kvasir_up_to_date cuda"));
        assertEquals(0, bash("kvasir_up_to_date cpu"), "kernel sources do not matter to CPU serving");
        assertEquals(0, bash("[ \"$(kvasir_variant serve --device cuda --port 1)\" = cuda ]"));
        assertEquals(0, bash("[ \"$(kvasir_variant serve --port 1)\" = cpu ]"));
    }

    @Test
    void twoLaunchesAtOnceBuildOnce() throws Exception {
        Thread other = Thread.ofPlatform().start(() -> {
            try {
                assertEquals(0, bash("kvasir_build_if_needed cpu"));
            } catch (IOException | InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertEquals(0, bash("kvasir_build_if_needed cpu"));
        other.join();
        assertEquals(1, builds().size(), "the second launch waited for the first build and used it: " + builds());
    }
}
