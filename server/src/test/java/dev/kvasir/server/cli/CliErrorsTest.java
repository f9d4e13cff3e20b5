package dev.kvasir.server.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
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
}
