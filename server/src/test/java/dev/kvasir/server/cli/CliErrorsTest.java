package dev.kvasir.server.cli;

import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** User mistakes on the command line end in one line naming what was wrong, not a stack trace. */
class CliErrorsTest {

    @Test
    void badModelFileIsOneLineNamingTheFile(@TempDir Path dir) throws Exception {
        Path notAModel = Files.writeString(dir.resolve("notes.gguf"), "this is not a model");
        StringWriter err = new StringWriter();
        int code = KvasirCli.commandLine().setErr(new PrintWriter(err, true))
                .execute("generate", "--model", notAModel.toString(), "--prompt", "hi", "--max-tokens", "1");
        String message = err.toString();
        assertEquals(1, code, message);
        assertTrue(message.startsWith("kvasir generate: ") && message.contains(notAModel.toString()), message);
        assertFalse(message.contains("\tat "), "no stack trace for a user error: " + message);
    }

    @Test
    void missingModelFileIsOneLine(@TempDir Path dir) {
        Path missing = dir.resolve("missing.gguf");
        StringWriter err = new StringWriter();
        int code = KvasirCli.commandLine().setErr(new PrintWriter(err, true))
                .execute("generate", "--model", missing.toString(), "--prompt", "hi", "--max-tokens", "1");
        String message = err.toString();
        assertEquals(1, code, message);
        assertTrue(message.contains("missing.gguf"), message);
        assertFalse(message.contains("\tat "), message);
    }

    /** What kvasir prints on stderr and returns for {@code args}. */
    private static String[] run(String... args) {
        StringWriter err = new StringWriter();
        int code = KvasirCli.commandLine().setErr(new PrintWriter(err, true)).execute(args);
        return new String[] {String.valueOf(code), err.toString()};
    }

    @Test
    void aTensorParallelSizeThatDoesNotDivideTheHeadsIsRefusedBeforeAnythingLoads() {
        String model = ModelLocator.testModel("stories260K.gguf").toString();
        String[] r = run("generate", "--model", model, "--prompt", "hi", "--max-tokens", "1", "--tensor-parallel-size", "3");
        assertEquals("1", r[0], r[1]);
        assertEquals("kvasir generate: --tensor-parallel-size 3 does not divide the model's 8 attention heads; use one that"
                + " does (1, 2, 4, 8)", r[1].strip());
        // 8 divides the heads and the KV heads are replicated, but stories260K's feed-forward size is 172.
        r = run("serve", "--model", model, "--port", "0", "-tp", "8");
        assertEquals("1", r[0], r[1]);
        assertEquals("kvasir serve: --tensor-parallel-size 8 does not divide the model's feed-forward size 172", r[1].strip());
    }

    @Test
    void aTensorParallelSizeBelowOneIsRefused() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream old = System.err;
        int code;
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = KvasirCli.commandLine().execute("serve", "--tensor-parallel-size", "0");
        } finally {
            System.setErr(old);
        }
        assertEquals(2, code);
        assertEquals("serve: --tensor-parallel-size must be at least 1, got 0", err.toString(StandardCharsets.UTF_8).strip());
    }
}
