package dev.kvasir.server.cli;

import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GenerateCommandTest {

    /** stdout holds the continuation and nothing else; timing goes to stderr. */
    @Test
    void printsOnlyTheGreedyContinuation() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream oldOut = System.out, oldErr = System.err;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = new CommandLine(new KvasirCli()).execute("generate", "--model",
                    ModelLocator.testModel("stories260K.gguf").toString(), "--prompt", "Once upon a time",
                    "--max-tokens", "60", "--temperature", "0", "--threads", "2");
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        assertEquals(0, code, err::toString);
        // llama2.c run.c -n 64 -i "Once upon a time" (stories260K.expected.json), prompt removed.
        assertEquals(", there was a little girl named Lily. She loved to play outside in the park. One day, she saw"
                + " a big, red ball. She wanted to play with it, but it was too high.\nLily\n", out.toString(StandardCharsets.UTF_8));
        String timing = err.toString(StandardCharsets.UTF_8);
        assertTrue(timing.contains("prompt: 5 tokens") && timing.contains("decode: 60 tokens"), timing);
    }
}
