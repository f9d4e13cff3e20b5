package dev.kvasir.server.cli;

import dev.kvasir.models.ModelLocator;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GenerateCommandTest {

    /** stdout holds the continuation and nothing else; timing goes to stderr. */
    @Test
    void printsOnlyTheGreedyContinuation() {
        String[] r = generate();
        // llama2.c run.c -n 64 -i "Once upon a time" (stories260K.expected.json), prompt removed.
        assertEquals(REFERENCE, r[0]);
        assertTrue(r[1].contains("prompt: 5 tokens") && r[1].contains("decode: 60 tokens"), r[1]);
    }

    /** The model split over two CPU ranks (a worker each, in-process all-reduce): the same text. */
    @Test
    void twoTensorParallelRanksPrintTheSameContinuation() {
        String[] r = generate("--tensor-parallel-size", "2");
        assertEquals(REFERENCE, r[0]);
        assertTrue(r[1].contains("2 tensor-parallel ranks") && r[1].contains("decode: 60 tokens"), r[1]);
    }

    private static final String REFERENCE = ", there was a little girl named Lily. She loved to play outside in the park. One day,"
            + " she saw a big, red ball. She wanted to play with it, but it was too high.\nLily\n";

    /** stdout and stderr of a greedy generate of 60 tokens after "Once upon a time", plus {@code extra} flags. */
    static String[] generate(String... extra) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        PrintStream oldOut = System.out, oldErr = System.err;
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            String[] base = {"generate", "--model", ModelLocator.testModel("stories260K.gguf").toString(), "--prompt",
                    "Once upon a time", "--max-tokens", "60", "--temperature", "0", "--threads", "2"};
            String[] args = Arrays.copyOf(base, base.length + extra.length);
            System.arraycopy(extra, 0, args, base.length, extra.length);
            code = new CommandLine(new KvasirCli()).execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        assertEquals(0, code, err::toString);
        return new String[] {out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)};
    }
}
